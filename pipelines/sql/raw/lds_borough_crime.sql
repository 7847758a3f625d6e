-- London Datastore MPS borough crime, every file as parsed (one row per borough, category and
-- month). Counts are kept as published text; staging casts them after validation.
create table if not exists raw.lds_borough_crime (
    source_file_id varchar not null,
    month date not null,
    borough_name_published varchar not null,
    borough_name varchar not null,
    borough_code varchar,
    is_borough boolean not null,
    major_category varchar not null,
    minor_category varchar not null,
    category_scheme varchar not null,
    offences varchar not null,
    source_line integer not null
);
