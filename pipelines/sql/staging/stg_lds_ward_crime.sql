-- Ward crime as typed rows: renames and casts only.
with source as (
    select * from raw.lds_ward_crime
),

final as (
    select
        source_file_id,
        month,
        ward_code,
        ward_name,
        borough_name_published,
        borough_name,
        borough_code,
        is_borough,
        major_category,
        minor_category,
        category_scheme,
        cast(offences as integer) as offences
    from source
)

select * from final
