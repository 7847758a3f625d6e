-- Homicide victims, one row per victim as published (victims is the published count, always 1
-- so far). Each month comes whole from the newest publication whose span covers it (latest
-- vintage, then latest load): a month with no victims in that publication is not refilled
-- from an older one. "Heathrow" is kept as a pseudo-borough (is_borough false, no code).
with victims as (
    select * from staging.stg_mps_homicide
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

spans as (
    select source_file_id, min(month) as first_month, max(month) as last_month
    from victims
    group by source_file_id
),

covered as (
    select
        cast(unnest(generate_series(spans.first_month, spans.last_month, interval 1 month))
            as date) as month,
        spans.source_file_id,
        loads.vintage,
        loads.load_seq
    from spans
    inner join loads using (source_file_id)
),

chosen as (
    select month, source_file_id, vintage
    from covered
    qualify row_number() over (
        partition by month order by vintage desc, load_seq desc
    ) = 1
),

final as (
    select
        victims.month,
        victims.borough_code,
        victims.borough_name,
        victims.borough_name_published,
        victims.is_borough,
        victims.age_group,
        victims.sex,
        victims.method,
        victims.domestic_abuse,
        victims.offence_type,
        victims.solved_status,
        victims.officer_observed_ethnicity,
        victims.victims,
        chosen.vintage,
        victims.source_file_id
    from victims
    inner join chosen using (month, source_file_id)
)

select * from final
