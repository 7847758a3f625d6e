-- One row per police.uk file the warehouse holds: kind (street, outcomes, stop_search), force,
-- the file's month, its rows and the crime types it covers, so a page totalling a month can
-- say what it is a total of. A file cut down to one crime type before it reached us (the
-- burglary-only Met files) reads "Burglary only" in coverage; a complete month has a dozen or
-- more types. Outcomes files carry no crime type: theirs come from street rows with the same
-- crime_id (rows_typed counts the rows matched), so they are only as complete as the street
-- files loaded. Stop-and-search files have no crime types (NULL). Built from staging because
-- the marts are built in name order.
with street as (
    select * from staging.stg_police_uk_street
),

outcomes as (
    select * from staging.stg_police_uk_outcomes
),

searches as (
    select * from staging.stg_police_uk_stop_search
),

loads as (
    select source_file_id, path, loaded_at from marts.loads
),

typed_crimes as (
    select crime_id, min(crime_type) as crime_type
    from street
    where crime_id is not null
    group by crime_id
),

street_files as (
    select
        'street' as kind,
        force,
        month,
        source_file_id,
        count(*) as rows,
        count(crime_type) as rows_typed,
        string_agg(distinct crime_type, '; ' order by crime_type) as crime_types,
        count(distinct crime_type) as crime_type_count
    from street
    group by force, month, source_file_id
),

outcome_files as (
    select
        'outcomes' as kind,
        outcomes.force,
        outcomes.month,
        outcomes.source_file_id,
        count(*) as rows,
        count(typed_crimes.crime_type) as rows_typed,
        string_agg(distinct typed_crimes.crime_type, '; ' order by typed_crimes.crime_type)
            as crime_types,
        count(distinct typed_crimes.crime_type) as crime_type_count
    from outcomes
    left join typed_crimes using (crime_id)
    group by outcomes.force, outcomes.month, outcomes.source_file_id
),

search_files as (
    select
        'stop_search' as kind,
        force,
        file_month as month,
        source_file_id,
        count(*) as rows,
        null::bigint as rows_typed,
        null::varchar as crime_types,
        null::bigint as crime_type_count
    from searches
    group by force, file_month, source_file_id
),

files as (
    select * from street_files
    union all
    select * from outcome_files
    union all
    select * from search_files
),

final as (
    select
        files.kind,
        files.force,
        files.month,
        files.rows,
        files.rows_typed,
        files.crime_types,
        files.crime_type_count,
        case
            when files.kind = 'stop_search' then null
            when files.crime_type_count = 0 then 'crime types unknown'
            when files.crime_type_count = 1 then files.crime_types || ' only'
            else files.crime_type_count || ' crime types'
        end as coverage,
        files.source_file_id,
        loads.path,
        loads.loaded_at
    from files
    left join loads using (source_file_id)
)

select * from final
