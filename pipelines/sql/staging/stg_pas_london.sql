-- PAS London-wide series as typed rows: renames and casts only.
with source as (
    select * from raw.pas_london
),

final as (
    select
        source_file_id,
        period_end,
        survey,
        borough_published,
        measure_published,
        measure_id,
        measure_label,
        cast(proportion as double) as proportion
    from source
)

select * from final
