-- PAS neighbourhood indicators as typed rows: renames and casts only. A missing value ('')
-- becomes NULL, never zero.
with source as (
    select * from raw.pas_neighbourhood
),

final as (
    select
        source_file_id,
        period,
        neighbourhood,
        neighbourhood_code,
        borough_name,
        borough_code,
        question,
        measure_id,
        measure_label,
        group_name,
        response_definition,
        cast(nullif(percent, '') as double) as percent
    from source
)

select * from final
