-- London Borough Profiles as typed rows: renames and casts only.
with source as (
    select * from raw.lds_borough_profiles
),

final as (
    select
        source_file_id,
        borough_code,
        borough_name,
        inner_outer,
        cast(gla_population_2017 as bigint) as gla_population_2017
    from source
)

select * from final
