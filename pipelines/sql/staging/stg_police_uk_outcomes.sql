-- police.uk outcomes as typed rows: renames and casts only; published blanks become NULL.
with source as (
    select * from raw.police_uk_outcomes
),

final as (
    select
        source_file_id,
        month,
        force,
        crime_id,
        reported_by,
        falls_within as force_name,
        cast(nullif(longitude, '') as double) as longitude,
        cast(nullif(latitude, '') as double) as latitude,
        nullif(location, '') as location,
        nullif(lsoa_code, '') as lsoa_code,
        nullif(lsoa_name, '') as lsoa_name,
        outcome_type,
        source_line
    from source
)

select * from final
