-- The current PAS borough figures: for each quarter end, borough and measure, the row from the
-- newest publication holding it (latest vintage, then latest load). Loading a second copy of
-- the same data (a CSV re-save, the other date order or decimal mark, the workbook) therefore
-- changes no figure. proportion is 0-1; london_proportion is the same row's MPS column.
with pas as (
    select * from staging.stg_pas_borough
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

newest as (
    select
        pas.period_end,
        pas.borough_code,
        pas.borough_name,
        pas.measure_id,
        pas.measure_label,
        pas.proportion,
        pas.london_proportion,
        pas.survey,
        loads.vintage,
        pas.source_file_id
    from pas
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by pas.period_end, pas.borough_code, pas.measure_id
        order by loads.vintage desc, loads.load_seq desc
    ) = 1
),

final as (
    select * from newest
)

select * from final
