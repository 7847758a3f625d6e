-- police.uk outcomes, one row per published row: month is the month the outcome was recorded,
-- and a crime has a row for each outcome it reached (crime_id repeats; exact copies are kept).
-- Join to marts.street_crime on crime_id for the crime's type and month.
with outcomes as (
    select * from staging.stg_police_uk_outcomes
),

final as (
    select
        month,
        crime_id,
        force,
        lsoa_code,
        lsoa_name,
        outcome_type,
        longitude,
        latitude,
        location,
        force_name,
        reported_by,
        source_line,
        source_file_id
    from outcomes
)

select * from final
