-- Census 2011 ethnic group counts as typed rows: renames and casts only.
with source as (
    select * from raw.census_2011_ethnic
),

final as (
    select
        source_file_id,
        cast(census_date as integer) as census_year,
        geography_code,
        geography_name,
        rural_urban,
        cast(all_people as bigint) as all_people,
        cast(white as bigint) as white,
        cast(mixed as bigint) as mixed,
        cast(asian as bigint) as asian,
        cast(black as bigint) as black,
        cast(other as bigint) as other
    from source
)

select * from final
