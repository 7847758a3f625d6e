-- Census 2021 local authority indicators (ONS census quiz data), every file as parsed: one
-- row per area (authorities, England, Wales, England and Wales) with usual residents and the
-- four published ethnic-group percentages (1 d.p.), as text.
create table if not exists raw.census_2021_indicators (
    source_file_id varchar not null,
    geography_code varchar not null,
    geography_name varchar not null,
    population_total varchar not null,
    asian_pct varchar not null,
    black_pct varchar not null,
    mixed_pct varchar not null,
    white_pct varchar not null,
    source_line integer not null
);
