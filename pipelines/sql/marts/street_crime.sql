-- police.uk street-level crime, one row per published row (data contract: marts.street_crime).
-- Counted as published: anti-social behaviour rows have no crime_id, some crime_ids repeat in
-- a month and some rows are exact copies; none is dropped, so counts match police.uk's.
-- Some loaded files hold one crime type only: see marts.police_uk_files before totalling.
with street as (
    select * from staging.stg_police_uk_street
),

final as (
    select
        month,
        crime_id,
        force,
        longitude,
        latitude,
        lsoa_code,
        lsoa_name,
        crime_type,
        last_outcome,
        location,
        context,
        force_name,
        reported_by,
        source_line,
        source_file_id
    from street
)

select * from final
