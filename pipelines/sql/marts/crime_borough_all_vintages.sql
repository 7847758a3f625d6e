-- Every published vintage of borough crime, with the publication it came from.
with crime as (
    select * from staging.stg_lds_borough_crime
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

final as (
    select
        crime.month,
        crime.borough_code,
        crime.borough_name,
        crime.borough_name_published,
        crime.is_borough,
        crime.major_category,
        crime.minor_category,
        crime.category_scheme,
        crime.offences,
        loads.vintage,
        loads.load_seq,
        crime.source_file_id
    from crime
    inner join loads using (source_file_id)
)

select * from final
