-- Census 2011 QS201EW ethnic group (Nomis export), every file as parsed: one row per local
-- authority of England and Wales with the total and the five high-level groups, as text.
create table if not exists raw.census_2011_ethnic (
    source_file_id varchar not null,
    census_date varchar not null,
    geography_code varchar not null,
    geography_name varchar not null,
    rural_urban varchar not null,
    all_people varchar not null,
    white varchar not null,
    mixed varchar not null,
    asian varchar not null,
    black varchar not null,
    other varchar not null,
    source_line integer not null
);
