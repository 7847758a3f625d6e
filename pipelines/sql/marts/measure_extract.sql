-- Figures the MPS supplies outside its open datasets (docs/measure_extract.md): one row per
-- measure, period and geography ('MPS' or a borough's E09 code). Where several loads give the
-- same measure, period and geography, the newest load wins (a re-supplied figure replaces
-- the old one); vintage is the last period end of the extract that supplied the row.
with extract as (
    select * from staging.stg_mps_measure_extract
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

final as (
    select
        extract.measure_id,
        extract.period_start,
        extract.period_end,
        extract.geography_code,
        extract.value,
        extract.numerator,
        extract.denominator,
        extract.unit,
        extract.supplied_by as source,
        loads.vintage,
        extract.source_file_id
    from extract
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by
            extract.measure_id, extract.period_start, extract.period_end, extract.geography_code
        order by loads.load_seq desc
    ) = 1
)

select * from final
