-- police.uk street-level crime, every row as published (anti-social behaviour rows without a
-- Crime ID, repeated IDs and exact copies included). One force and month per file; loading a
-- force's month again replaces these rows. Coordinates stay published text; staging casts.
create table if not exists raw.police_uk_street (
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
    crime_type varchar not null,
    last_outcome varchar not null,
    context varchar not null,
    source_line integer not null
);
