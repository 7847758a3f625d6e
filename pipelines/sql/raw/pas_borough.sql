-- MOPAC PAS Trust & Confidence dashboard, Borough sheet: every file as parsed (one row per
-- quarter end, borough and measure). Proportions are kept as published text with a decimal
-- point; staging casts them after validation.
create table if not exists raw.pas_borough (
    source_file_id varchar not null,
    period_end date not null,
    survey varchar not null,
    borough_published varchar not null,
    borough_name varchar not null,
    borough_code varchar,
    measure_published varchar not null,
    measure_id varchar,
    measure_label varchar not null,
    proportion varchar not null,
    london_proportion varchar not null,
    source_line integer not null
);
