-- MPS Homicide Dashboard data, every file as parsed: one row per victim. Borough spellings are
-- resolved (borough_code NULL for the pseudo-borough "Heathrow"); the count is published text.
create table if not exists raw.mps_homicide (
    source_file_id varchar not null,
    month date not null,
    recorded_date varchar not null,
    borough_name_published varchar not null,
    borough_name varchar not null,
    borough_code varchar,
    is_borough boolean not null,
    age_group varchar not null,
    sex varchar not null,
    method varchar not null,
    domestic_abuse varchar not null,
    offence_type varchar not null,
    solved_status varchar not null,
    officer_observed_ethnicity varchar not null,
    victims varchar not null,
    source_line integer not null
);
