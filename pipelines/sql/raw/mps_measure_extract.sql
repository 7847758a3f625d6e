-- MPS measure extract (docs/measure_extract.md), every file as parsed: one row per measure,
-- period and geography, all as published text; staging casts after validation.
create table if not exists raw.mps_measure_extract (
    source_file_id varchar not null,
    measure_id varchar not null,
    period_start varchar not null,
    period_end varchar not null,
    geography_code varchar not null,
    value varchar not null,
    numerator varchar not null,
    denominator varchar not null,
    unit varchar not null,
    source varchar not null,
    source_line integer not null
);
