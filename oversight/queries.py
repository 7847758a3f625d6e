"""Named read functions over the marts: (connection, args) -> DataFrame."""

from __future__ import annotations

import duckdb
import pandas as pd


def loads_by_source(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Files loaded per source, with rows and the newest vintage."""
    return con.execute(
        """
        select source, count(*) as files, sum(rows) as rows, max(vintage) as newest_vintage,
               max(loaded_at) as last_loaded
        from marts.loads
        group by source
        order by source
        """
    ).df()


def warehouse_info(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The published version and when it was published."""
    version, published = con.execute(
        "select max(version), max(published_at) from meta.warehouse"
    ).fetchall()[0]
    return {"version": version, "published_at": published}


def london_annual_offences(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Total recorded offences in the MPS area per calendar year (complete years only)."""
    return con.execute(
        """
        with monthly as (
            select month, sum(offences) as offences, any_value(category_scheme) as scheme
            from marts.crime_borough_monthly
            where major_category <> 'NFIB FRAUD'
            group by month
        ),
        final as (
            select year(month) as year, sum(offences) as offences, count(*) as months,
                   string_agg(distinct scheme, ', ') as category_schemes
            from monthly
            group by year
            having count(*) = 12
        )
        select * from final order by year
        """
    ).df()


def data_status(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Whether any loaded file is synthetic, the latest month of crime data and load time."""
    synthetic, loaded_at = con.execute(
        "select coalesce(bool_or(synthetic), false), max(loaded_at) from marts.loads "
        "where status = 'loaded'"
    ).fetchall()[0]
    data_to = con.execute("select max(month) from marts.crime_borough_monthly").fetchall()[0][0]
    return {"synthetic": bool(synthetic), "loaded_at": loaded_at, "data_to": data_to}
