-- Home Office use of force: the number of incidents in which force was used, by police force
-- and region, per financial year. "Total <region>" and "Total England and Wales" rows are kept
-- with is_total true: add up only rows where is_total is false. The Met is region 'London',
-- force 'Metropolitan'. Each financial year comes whole from the newest load that gives this
-- table for it (the ODS and the CSV extract hold the same figures).
with staged as (
    select * from staging.stg_home_office_use_of_force
    where publication_table = 'incidents'
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

chosen as (
    select distinct staged.financial_year, staged.source_file_id, loads.vintage, loads.load_seq
    from staged
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by staged.financial_year order by loads.load_seq desc
    ) = 1
),

final as (
    select
        staged.financial_year,
        staged.region,
        staged.force,
        starts_with(staged.force, 'Total ') as is_total,
        staged.incidents,
        chosen.vintage,
        staged.source_file_id
    from staged
    inner join chosen using (financial_year, source_file_id)
)

select * from final
