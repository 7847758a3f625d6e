-- Homicide victims per month and borough, from marts.homicide_victims (which already takes each
-- month whole from the newest publication covering it): every month from the first to the last,
-- for every borough, with 0 where no victim was recorded (so monthly charts and control limits
-- see the quiet months). Pseudo-boroughs ("Heathrow": borough_code NULL, is_borough false)
-- appear only in months with victims. A month with no victim anywhere takes the vintage of the
-- month before it.
with victims as (
    select * from marts.homicide_victims
),

months as (
    select cast(unnest(generate_series(min(month), max(month), interval 1 month)) as date)
        as month
    from victims
),

month_vintages as (
    select
        months.month,
        last_value(max(victims.vintage) ignore nulls) over (
            order by months.month rows between unbounded preceding and current row
        ) as vintage
    from months
    left join victims using (month)
    group by months.month
),

boroughs as (
    select distinct borough_code, borough_name
    from victims
    where is_borough
),

grid as (
    select month_vintages.month, boroughs.borough_code, boroughs.borough_name,
        month_vintages.vintage
    from month_vintages
    cross join boroughs
),

borough_counts as (
    select month, borough_code, sum(victims) as victims
    from victims
    where is_borough
    group by month, borough_code
),

pseudo_counts as (
    select month, borough_name, sum(victims) as victims, max(vintage) as vintage
    from victims
    where not is_borough
    group by month, borough_name
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
