-- The current London-wide PAS figures (the dashboard's MPS series): for each quarter end and
-- measure, the row from the newest publication holding it (latest vintage, then latest load).
-- London is the MPS area, coded 'MPS' as in every other mart.
with pas as (
    select * from staging.stg_pas_london
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

newest as (
    select
        pas.period_end,
        'MPS' as borough_code,
        'London (MPS area)' as borough_name,
        pas.measure_id,
        pas.measure_label,
        pas.proportion,
        pas.survey,
        loads.vintage,
        pas.source_file_id
    from pas
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by pas.period_end, pas.measure_id
        order by loads.vintage desc, loads.load_seq desc
    ) = 1
),

final as (
    select * from newest
)

select * from final
