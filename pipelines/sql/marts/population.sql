-- Mid-year resident population of the London boroughs (E09) by year and ONS series, plus an
-- MPS row per year and series: the 32 boroughs policed by the Met (all but the City of London,
-- E09000001), summed. The rebased series comes from the local authority table; the original
-- series sums the 2011 LSOA estimates by borough. Where several loads give the same borough,
-- year and series, the newest load wins. An MPS row is written only when all 32 boroughs are
-- present for that year and series, so a partial London is never summed.
with loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

rebased as (
    select
        geography_code,
        geography_name,
        year,
        population,
        'ons_mye_rebased' as series,
        source_file_id
    from staging.stg_ons_population_la
    where geography_code like 'E09%'
),

original as (
    select
        borough_code as geography_code,
        min(borough_name) as geography_name,
        year,
        sum(population) as population,
        'ons_mye_original' as series,
        source_file_id
    from staging.stg_ons_sape_lsoa
    group by borough_code, year, source_file_id
),

boroughs as (
    select * from rebased
    union all
    select * from original
),

newest as (
    select
        boroughs.geography_code,
        boroughs.geography_name,
        boroughs.year,
        boroughs.population,
        boroughs.series,
        loads.vintage,
        loads.load_seq,
        boroughs.source_file_id
    from boroughs
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by boroughs.geography_code, boroughs.year, boroughs.series
        order by loads.load_seq desc
    ) = 1
),

mps as (
    select
        'MPS' as geography_code,
        'London (MPS area)' as geography_name,
        year,
        sum(population) as population,
        series,
        arg_max(vintage, load_seq) as vintage,
        arg_max(source_file_id, load_seq) as source_file_id
    from newest
    where geography_code <> 'E09000001'
    group by year, series
    having count(*) = 32
),

final as (
    select
        geography_code,
        geography_name,
        cast(year as integer) as year,
        cast(population as bigint) as population,
        series,
        vintage,
        source_file_id
    from newest
    union all
    select
        geography_code,
        geography_name,
        cast(year as integer) as year,
        cast(population as bigint) as population,
        series,
        vintage,
        source_file_id
    from mps
)

select * from final
