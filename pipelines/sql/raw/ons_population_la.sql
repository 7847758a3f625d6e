-- ONS mid-year population estimates by local authority (Regional GDP Table 6, rebased after
-- Census 2021), every file as parsed: one row per authority and year, all UK authorities as
-- published. Population is kept as published text; staging casts it after validation.
create table if not exists raw.ons_population_la (
    source_file_id varchar not null,
    itl1_region varchar not null,
    la_code varchar not null,
    la_name varchar not null,
    year integer not null,
    population varchar not null,
    source_line integer not null
);
