-- GLA London Borough Profiles (2017 estimates), every file as parsed: one row per borough,
-- fully empty rows skipped. Population kept as published text (thousands separators removed).
create table if not exists raw.lds_borough_profiles (
    source_file_id varchar not null,
    borough_code varchar not null,
    borough_name varchar not null,
    inner_outer varchar not null,
    gla_population_2017 varchar not null,
    source_line integer not null
);
