-- ONS local authority population as typed rows: renames and casts only.
with source as (
    select * from raw.ons_population_la
),

final as (
    select
        source_file_id,
        itl1_region,
        la_code as geography_code,
        la_name as geography_name,
        year,
        cast(population as bigint) as population
    from source
)

select * from final
