-- Home Office use of force: the number of times each tactic was used, by police force and
-- officer-perceived ethnicity of the person, per financial year. Counts are TACTICS, not
-- people or incidents (one incident can involve several tactics).
--
-- The published table mixes detail rows with subtotals, and all are kept:
-- tactic_level 'all_tactics' ("*Total Tactics": every type except "Not reported" and
-- "Tactical communication"), 'type_total' ("*Total Restraint" ...), 'group_total'
-- ("Handcuffing, of which" ...) or 'tactic' (a detail row). ethnic_group 'All' is the
-- published "Number of times tactic reported"; a force "Total England and Wales" sums the
-- forces. is_subtotal is true for any row that is a sum of other rows on one of those three
-- axes: add up only rows where is_subtotal is false, or read the published subtotal row.
-- tactics is NULL where the publisher marks the figure not available.
--
-- Each financial year comes whole from the newest load that gives this table for it (the ODS
-- and the CSV extract hold the same figures).
with staged as (
    select * from staging.stg_home_office_use_of_force
    where publication_table = 'tactics_by_ethnicity'
),

loads as (
    select source_file_id, vintage, load_seq from marts.loads
),

chosen as (
    select distinct staged.financial_year, staged.source_file_id, loads.vintage, loads.load_seq
    from staged
    inner join loads using (source_file_id)
    qualify row_number() over (
        partition by staged.financial_year order by loads.load_seq desc
    ) = 1
),

current_rows as (
    select staged.*, chosen.vintage
    from staged
    inner join chosen using (financial_year, source_file_id)
),

groups as (
    select * from (
        values
            (1, 'White'),
            (2, 'Black (or Black British)'),
            (3, 'Asian (or Asian British)'),
            (4, 'Mixed'),
            (5, 'Other'),
            (6, 'Not reported'),
            (7, 'All')
    ) as g (group_order, ethnic_group)
),

levelled as (
    select
        current_rows.*,
        case
            when starts_with(tactic, '*') and starts_with(type_of_force, 'Total') then 'all_tactics'
            when starts_with(tactic, '*') then 'type_total'
            when regexp_matches(tactic, 'of which$') then 'group_total'
            else 'tactic'
        end as tactic_level
    from current_rows
),

final as (
    select
        levelled.financial_year,
        levelled.force,
        levelled.type_of_force,
        levelled.tactic,
        levelled.tactic_level,
        levelled.tactic_level <> 'tactic'
            or groups.ethnic_group = 'All'
            or starts_with(levelled.force, 'Total ') as is_subtotal,
        groups.ethnic_group,
        case groups.group_order
            when 1 then levelled.white
            when 2 then levelled.black
            when 3 then levelled.asian
            when 4 then levelled.mixed
            when 5 then levelled.other
            when 6 then levelled.not_reported
            else levelled.tactics_total
        end as tactics,
        levelled.vintage,
        levelled.source_file_id
    from levelled
    cross join groups
)

select * from final
