-- police.uk stop and search, every search as published (exact copies included). The force
-- comes from the file name or --force; file_month is the file's own month, the key a later
-- load of the same force and month replaces; month is the London local month of searched_at.
-- Published text is kept (searched_at as ISO-8601, booleans as True/False/blank).
create table if not exists raw.police_uk_stop_search (
    source_file_id varchar not null,
    force varchar not null,
    file_month date not null,
    searched_at varchar not null,
    month date not null,
    type varchar not null,
    part_of_operation varchar not null,
    operation_name varchar not null,
    latitude varchar not null,
    longitude varchar not null,
    gender varchar not null,
    age_range varchar not null,
    self_defined_ethnicity varchar not null,
    officer_defined_ethnicity varchar not null,
    legislation varchar not null,
    object_of_search varchar not null,
    outcome varchar not null,
    outcome_linked varchar not null,
    more_than_outer_clothing_removed varchar not null,
    source_line integer not null
);
