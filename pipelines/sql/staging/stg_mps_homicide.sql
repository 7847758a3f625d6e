-- Homicide victims as typed rows: renames and casts only.
with source as (
    select * from raw.mps_homicide
),

final as (
    select
        source_file_id,
        month,
        borough_name_published,
        borough_name,
        borough_code,
        is_borough,
        age_group,
        sex,
        method,
        domestic_abuse,
        offence_type,
        solved_status,
        officer_observed_ethnicity,
        cast(victims as integer) as victims,
        source_line
    from source
)

select * from final
