-- Searches per London month, force, search type and outcome, for pages that need totals fast.
-- A blank published outcome stays NULL here (its own group).
with searches as (
    select * from marts.stop_search
),

final as (
    select
        month,
        force,
        type,
        outcome,
        count(*) as searches
    from searches
    group by month, force, type, outcome
)

select * from final
