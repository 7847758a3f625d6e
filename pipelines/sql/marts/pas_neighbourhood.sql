-- The current PAS neighbourhood indicators: for each survey period, neighbourhood, measure and
-- group ('all', or the ethnic group a column reports), the row from the newest load. percent
-- is 0-100 as published; NULL is a missing value (blank or "N/A" in the file), never zero.
-- "group" is a reserved word: quote it in queries.
with pas as (
    select * from staging.stg_pas_neighbourhood
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

newest as (
    select
        pas.period,
        pas.neighbourhood,
        pas.neighbourhood_code,
        pas.borough_code,
        pas.borough_name,
        pas.measure_id,
        pas.measure_label,
        pas.group_name as "group",
        pas.percent,
        pas.response_definition,
        loads.vintage,
        pas.source_file_id
    from pas
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by pas.period, pas.neighbourhood, pas.measure_id, pas.group_name
        order by loads.load_seq desc
    ) = 1
),

final as (
    select * from newest
)

select * from final
