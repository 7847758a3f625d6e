-- London Borough Profiles: one row per borough with its name, inner/outer London (the ONS
-- statistical definition, shortened to 'Inner'/'Outer' as in data/reference/boroughs.csv) and
-- the GLA 2017 population estimate. Where several loads give a borough, the newest load wins.
with profiles as (
    select * from staging.stg_lds_borough_profiles
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

newest as (
    select
        profiles.borough_code,
        profiles.borough_name,
        profiles.inner_outer,
        profiles.gla_population_2017,
        loads.vintage,
        profiles.source_file_id
    from profiles
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by profiles.borough_code order by loads.load_seq desc
    ) = 1
),

final as (
    select
        borough_code,
        borough_name,
        case inner_outer
            when 'Inner London' then 'Inner'
            when 'Outer London' then 'Outer'
        end as inner_outer,
        gla_population_2017,
        vintage,
        source_file_id
    from newest
)

select * from final
