-- police.uk stop and search as typed rows: renames and casts only. searched_at becomes an
-- instant (TIMESTAMPTZ, from its published UTC offset); month, the London local month, was
-- taken in the parser. Published "True"/"False" become BOOLEAN and blanks NULL.
with source as (
    select * from raw.police_uk_stop_search
),

final as (
    select
        source_file_id,
        force,
        file_month,
        cast(searched_at as timestamptz) as searched_at,
        month,
        type,
        cast(nullif(part_of_operation, '') as boolean) as part_of_operation,
        nullif(operation_name, '') as operation_name,
        cast(nullif(latitude, '') as double) as latitude,
        cast(nullif(longitude, '') as double) as longitude,
        nullif(gender, '') as gender,
        nullif(age_range, '') as age_range,
        nullif(self_defined_ethnicity, '') as self_defined_ethnicity,
        nullif(officer_defined_ethnicity, '') as officer_defined_ethnicity,
        nullif(legislation, '') as legislation,
        nullif(object_of_search, '') as object_of_search,
        nullif(outcome, '') as outcome,
        cast(nullif(outcome_linked, '') as boolean) as outcome_linked,
        cast(nullif(more_than_outer_clothing_removed, '') as boolean)
            as more_than_outer_clothing_removed,
        source_line
    from source
)

select * from final
