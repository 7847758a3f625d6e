-- Home Office police use of force statistics, every file as parsed (CSV extracts or the ODS
-- tables): one row per published table row. publication_table is 'tactics_by_ethnicity'
-- (times each tactic was used, by officer-perceived ethnicity, by force; subtotal rows kept)
-- or 'incidents' (incidents by force and region). Counts are published text; blank means
-- "not available". source_sheet is the ODS sheet (NULL for a CSV).
create table if not exists raw.home_office_use_of_force (
    source_file_id varchar not null,
    financial_year varchar not null,
    publication_table varchar not null,
    region varchar,
    force varchar not null,
    type_of_force varchar,
    tactic varchar,
    white varchar,
    black varchar,
    asian varchar,
    mixed varchar,
    other varchar,
    not_reported varchar,
    tactics_total varchar,
    incidents varchar,
    source_sheet varchar,
    source_line integer not null
);
