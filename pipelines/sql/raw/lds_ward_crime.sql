-- London Datastore MPS ward crime, every file as parsed (one row per ward, category and month).
create table if not exists raw.lds_ward_crime (
    source_file_id varchar not null,
    month date not null,
    ward_code varchar not null,
    ward_name varchar not null,
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
