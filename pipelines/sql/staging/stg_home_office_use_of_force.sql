-- Use-of-force table rows with typed counts: renames and casts only. Counts were validated as
-- whole numbers (some written "123.0") or blank ("not available", which becomes NULL).
with source as (
    select * from raw.home_office_use_of_force
),

final as (
    select
        source_file_id,
        financial_year,
        publication_table,
        region,
        force,
        type_of_force,
        tactic,
        cast(cast(nullif(white, '') as double) as bigint) as white,
        cast(cast(nullif(black, '') as double) as bigint) as black,
        cast(cast(nullif(asian, '') as double) as bigint) as asian,
        cast(cast(nullif(mixed, '') as double) as bigint) as mixed,
        cast(cast(nullif(other, '') as double) as bigint) as other,
        cast(cast(nullif(not_reported, '') as double) as bigint) as not_reported,
        cast(cast(nullif(tactics_total, '') as double) as bigint) as tactics_total,
        cast(cast(nullif(incidents, '') as double) as bigint) as incidents,
        source_sheet,
        source_line
    from source
)

select * from final
