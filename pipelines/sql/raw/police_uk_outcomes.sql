-- police.uk outcomes, every row as published (a crime appears once per outcome, and some rows
-- are exact copies). One force and month per file; loading a force's month again replaces it.
create table if not exists raw.police_uk_outcomes (
    source_file_id varchar not null,
    month date not null,
    force varchar not null,
    crime_id varchar not null,
    reported_by varchar not null,
    falls_within varchar not null,
    longitude varchar not null,
    latitude varchar not null,
    location varchar not null,
    lsoa_code varchar not null,
    lsoa_name varchar not null,
    outcome_type varchar not null,
    source_line integer not null
);
