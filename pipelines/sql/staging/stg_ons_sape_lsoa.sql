-- London LSOA population estimates as typed rows: renames and casts only.
with source as (
    select * from raw.ons_sape_lsoa
),

final as (
    select
        source_file_id,
        year,
        lsoa_code,
        lsoa_name,
        msoa_code,
        msoa_name,
        lad_code as borough_code,
        lad_name as borough_name,
        cast(persons as bigint) as population
    from source
)

select * from final
