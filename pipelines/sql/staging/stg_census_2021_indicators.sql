-- Census 2021 indicators as typed rows: renames and casts only. Percentages stay exact
-- decimals (published to 1 d.p.) so that "other" can be derived without float error.
with source as (
    select * from raw.census_2021_indicators
),

final as (
    select
        source_file_id,
        geography_code,
        geography_name,
        cast(population_total as bigint) as population_total,
        cast(asian_pct as decimal(18, 10)) as asian_pct,
        cast(black_pct as decimal(18, 10)) as black_pct,
        cast(mixed_pct as decimal(18, 10)) as mixed_pct,
        cast(white_pct as decimal(18, 10)) as white_pct
    from source
)

select * from final
