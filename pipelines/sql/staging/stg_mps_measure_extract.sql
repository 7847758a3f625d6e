-- Measure extract rows as typed values: renames and casts only (blank numerator or
-- denominator becomes NULL).
with source as (
    select * from raw.mps_measure_extract
),

final as (
    select
        source_file_id,
        measure_id,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        geography_code,
        cast(value as double) as value,
        cast(nullif(numerator, '') as double) as numerator,
        cast(nullif(denominator, '') as double) as denominator,
        unit,
        source as supplied_by,
        source_line
    from source
)

select * from final
