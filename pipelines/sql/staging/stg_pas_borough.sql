-- PAS Borough sheet as typed rows: renames and casts only.
with source as (
    select * from raw.pas_borough
),

final as (
    select
        source_file_id,
        period_end,
        survey,
        borough_published,
        borough_name,
        borough_code,
        measure_published,
        measure_id,
        measure_label,
        cast(proportion as double) as proportion,
        cast(london_proportion as double) as london_proportion
    from source
)

select * from final
