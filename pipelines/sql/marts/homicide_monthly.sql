-- Homicide victims per month and borough: every month each chosen publication covers, for
-- every borough that appears in it, with 0 where no victim was recorded (so monthly charts
-- and control limits see the quiet months). Pseudo-boroughs ("Heathrow": borough_code NULL,
-- is_borough false) appear only in months with victims. Months are chosen as in
-- homicide_victims (newest publication covering the month, whole month at a time); this mart
-- is built from staging because marts build in name order.
with victims as (
    select * from staging.stg_mps_homicide
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

spans as (
    select source_file_id, min(month) as first_month, max(month) as last_month
    from victims
    group by source_file_id
),

covered as (
    select
        cast(unnest(generate_series(spans.first_month, spans.last_month, interval 1 month))
            as date) as month,
        spans.source_file_id,
        loads.vintage,
        loads.load_seq
    from spans
    inner join loads using (source_file_id)
),

chosen as (
    select month, source_file_id, vintage
    from covered
    qualify row_number() over (
        partition by month order by vintage desc, load_seq desc
    ) = 1
),

current_victims as (
    select victims.*
    from victims
    inner join chosen using (month, source_file_id)
),

boroughs as (
    select distinct borough_code, borough_name
    from current_victims
    where is_borough
),

grid as (
    select chosen.month, boroughs.borough_code, boroughs.borough_name, chosen.vintage
    from chosen
    cross join boroughs
),

borough_counts as (
    select month, borough_code, sum(victims) as victims
    from current_victims
    where is_borough
    group by month, borough_code
),

pseudo_counts as (
    select
        current_victims.month,
        current_victims.borough_name,
        sum(current_victims.victims) as victims,
        any_value(chosen.vintage) as vintage
    from current_victims
    inner join chosen using (month, source_file_id)
    where not current_victims.is_borough
    group by current_victims.month, current_victims.borough_name
),

final as (
    select
        grid.month,
        grid.borough_code,
        grid.borough_name,
        true as is_borough,
        cast(coalesce(borough_counts.victims, 0) as integer) as victims,
        grid.vintage
    from grid
    left join borough_counts using (month, borough_code)
    union all
    select
        month,
        cast(null as varchar) as borough_code,
        borough_name,
        false as is_borough,
        cast(victims as integer) as victims,
        vintage
    from pseudo_counts
)

select * from final
