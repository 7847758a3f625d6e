-- The current view of ward crime: each month taken whole from the newest publication that
-- covers it (latest vintage, then latest load), so a month never mixes two publications or
-- two category schemes.
with vintages as (
    select * from marts.crime_ward_all_vintages
),

coverage as (
    select distinct month, source_file_id, vintage, load_seq from vintages
),

chosen as (
    select month, source_file_id
    from coverage
    qualify row_number() over (
        partition by month order by vintage desc, load_seq desc
    ) = 1
),

final as (
    select
        vintages.month,
        vintages.ward_code,
        vintages.ward_name,
        vintages.borough_code,
        vintages.borough_name,
        vintages.borough_name_published,
        vintages.is_borough,
        vintages.major_category,
        vintages.minor_category,
        vintages.category_scheme,
        vintages.offences,
        vintages.vintage,
        vintages.source_file_id
    from vintages
    inner join chosen using (month, source_file_id)
)

select * from final
