-- Every file loaded: the warehouse's own record of what it holds. Written by the loader,
-- never rebuilt. load_seq orders loads; vintage is the publication's own (e.g. last month);
-- synthetic marks files written by `python -m pipelines sample`.
create table if not exists marts.loads (
    load_seq integer not null,
    source_file_id varchar not null primary key,
    path varchar not null,
    sha256 varchar not null unique,
    source varchar not null,
    rows bigint not null,
    published_rows bigint not null,
    vintage varchar not null,
    loaded_at timestamptz not null,
    status varchar not null,
    report varchar,
    synthetic boolean not null default false
);

create table if not exists meta.warehouse (
    version integer not null,
    published_at timestamptz not null,
    note varchar
);
