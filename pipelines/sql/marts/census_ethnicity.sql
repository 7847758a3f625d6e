-- Census ethnic-group profile of the 33 London boroughs: one row per census, borough and
-- high-level group (white, mixed, asian, black, other). 2011 has counts (QS201EW) and shares
-- of all usual residents; 2021 publishes only percentages (1 d.p.) and usual residents, so
-- people is NULL and "other" is what the four published groups leave of 100%. Where several
-- loads give the same census and borough, the newest load wins.
with loads as (
    select source_file_id, load_seq from marts.loads
),

census_2011 as (
    select
        census_year,
        geography_code as borough_code,
        all_people as population_total,
        white,
        mixed,
        asian,
        black,
        other,
        source_file_id
    from staging.stg_census_2011_ethnic
    where geography_code like 'E09%'
),

newest_2011 as (
    select census_2011.*
    from census_2011
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by census_2011.census_year, census_2011.borough_code
        order by loads.load_seq desc
    ) = 1
),

groups_2011 as (
    unpivot newest_2011
    on white, mixed, asian, black, other
    into name ethnic_group value people
),

census_2021 as (
    select
        2021 as census_year,
        geography_code as borough_code,
        population_total,
        white_pct as white,
        mixed_pct as mixed,
        asian_pct as asian,
        black_pct as black,
        100 - (white_pct + mixed_pct + asian_pct + black_pct) as other,
        source_file_id
    from staging.stg_census_2021_indicators
    where geography_code like 'E09%'
),

newest_2021 as (
    select census_2021.*
    from census_2021
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by census_2021.borough_code order by loads.load_seq desc
    ) = 1
),

groups_2021 as (
    unpivot newest_2021
    on white, mixed, asian, black, other
    into name ethnic_group value percent
),

final as (
    select
        cast(census_year as integer) as census_year,
        borough_code,
        ethnic_group,
        cast(people as bigint) as people,
        cast(people as double) / population_total as share,
        cast(population_total as bigint) as population_total,
        source_file_id
    from groups_2011
    union all
    select
        cast(census_year as integer) as census_year,
        borough_code,
        ethnic_group,
        cast(null as bigint) as people,
        cast(percent * 0.01 as double) as share,
        cast(population_total as bigint) as population_total,
        source_file_id
    from groups_2021
)

select * from final
