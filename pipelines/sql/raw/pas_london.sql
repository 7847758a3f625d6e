-- MOPAC PAS Trust & Confidence dashboard, London-wide (MPS) series: every file as parsed (one
-- row per quarter end and measure). Proportions kept as published text with a decimal point.
create table if not exists raw.pas_london (
    source_file_id varchar not null,
    period_end date not null,
    survey varchar not null,
    borough_published varchar not null,
    measure_published varchar not null,
    measure_id varchar,
    measure_label varchar not null,
    proportion varchar not null,
    source_line integer not null
);
