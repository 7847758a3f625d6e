-- MOPAC PAS neighbourhood indicators: every file as parsed (one row per neighbourhood,
-- question and group). percent is published text; '' is a missing value (blank or "N/A"),
-- never zero. group_name is 'all' or the ethnic group the column reports.
create table if not exists raw.pas_neighbourhood (
    source_file_id varchar not null,
    period varchar not null,
    neighbourhood varchar not null,
    neighbourhood_code varchar,
    borough_name varchar not null,
    borough_code varchar,
    question varchar not null,
    measure_id varchar not null,
    measure_label varchar not null,
    group_name varchar not null,
    response_definition varchar not null,
    percent varchar not null,
    source_line integer not null
);
