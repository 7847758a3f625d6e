-- ONS small-area population estimates for London's 2011 LSOAs (original, pre-Census-2021
-- series), every file as parsed: one row per LSOA. The mid-year comes from --year or the
-- published file name (the file itself does not say). Persons kept as published text.
create table if not exists raw.ons_sape_lsoa (
    source_file_id varchar not null,
    year integer not null,
    lsoa_code varchar not null,
    lsoa_name varchar not null,
    msoa_code varchar not null,
    msoa_name varchar not null,
    lad_code varchar not null,
    lad_name varchar not null,
    persons varchar not null,
    source_line integer not null
);
