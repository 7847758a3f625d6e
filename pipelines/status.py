"""A readable summary of what a warehouse file holds."""

from __future__ import annotations

from pathlib import Path

import duckdb


def describe_warehouse(path: Path) -> str:
    """Version, loads by source and the size and span of every mart."""
    if not path.exists():
        return f"No warehouse at {path}. Load files with: python -m pipelines load PATH..."
    with duckdb.connect(str(path), read_only=True) as con:
        version = con.execute(
            "select max(version), max(published_at) from meta.warehouse"
        ).fetchall()[0]
        lines = [f"Warehouse {path}", f"version {version[0]}, published {version[1]}", ""]
        loads = con.sql(
            "select source, count(*) as files, sum(rows) as rows, max(vintage) as newest "
            "from marts.loads group by source order by source"
        ).fetchall()
        lines.append("Loaded files by source:")
        lines += [f"  {s}: {n} file(s), {r:,} rows, newest vintage {v}" for s, n, r, v in loads]
        lines += ["", "Marts:"]
        tables = con.sql(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by table_name"
        ).fetchall()
        for (table,) in tables:
            columns = {r[0] for r in con.sql(f"describe marts.{table}").fetchall()}
            span = (
                con.execute(f"select min(month), max(month) from marts.{table}").fetchall()[0]
                if "month" in columns
                else None
            )
            count = con.execute(f"select count(*) from marts.{table}").fetchall()[0][0]
            extra = f", months {span[0]} to {span[1]}" if span and span[0] else ""
            lines.append(f"  marts.{table}: {count:,} rows{extra}")
    return "\n".join(lines)
