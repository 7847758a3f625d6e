-- police.uk street-level crime as typed rows: renames and casts only. Published blanks become
-- NULL (a blank Crime ID is an anti-social behaviour report; blank coordinates and LSOA mean
-- "No Location"); every published row is kept.
with source as (
    select * from raw.police_uk_street
),

final as (
    select
        source_file_id,
        month,
        force,
        nullif(crime_id, '') as crime_id,
        reported_by,
        falls_within as force_name,
        cast(nullif(longitude, '') as double) as longitude,
        cast(nullif(latitude, '') as double) as latitude,
        nullif(location, '') as location,
        nullif(lsoa_code, '') as lsoa_code,
        nullif(lsoa_name, '') as lsoa_name,
        crime_type,
        nullif(last_outcome, '') as last_outcome,
        nullif(context, '') as context,
        source_line
    from source
)

select * from final
