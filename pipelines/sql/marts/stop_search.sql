-- police.uk stop and search, one row per published search (data contract: marts.stop_search).
-- month is the London local month of searched_at (a search at 2023-06-30T23:30:00+00:00 is
-- July); file_month is the month of the published file it came from. Exact copies are kept.
with searches as (
    select * from staging.stg_police_uk_stop_search
),

final as (
    select
        searched_at,
        month,
        type,
        part_of_operation,
        operation_name,
        gender,
        age_range,
        self_defined_ethnicity,
        officer_defined_ethnicity,
        legislation,
        object_of_search,
        outcome,
        outcome_linked,
        more_than_outer_clothing_removed,
        latitude,
        longitude,
        force,
        file_month,
        source_line,
        source_file_id
    from searches
)

select * from final
