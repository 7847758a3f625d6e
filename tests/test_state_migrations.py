"""The app-state store's schema version (PRAGMA user_version) and its migrations.

A store as the first release wrote it (today's tables, meta.schema_version 1, user_version 0)
is opened by the current code: it is brought to the latest schema in one transaction and no
row is lost. A store from a newer version is refused and not written to.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from oversight import governance

ROWS = {
    "meetings": "insert into meetings values ('LPB-2026-01', 'London Policing Board', "
    "'2026-01-15', 'Trust', '2026-01-05', 'planned')",
    "agenda_items": "insert into agenda_items values ('LPB-2026-01-1', 'LPB-2026-01', "
    "'Stop and search', 'trust', 'stop_search_rate', 'MOPAC')",
    "actions": "insert into actions values ('A-1', 'Report back', 'MPS', '2026-02-01', 'open', "
    "'LPB-2026-01', 'robbery')",
    "risks": "insert into risks values ('R-1', 'Data late', 'MOPAC', 3, 4, '', 'open')",
    "decisions": "insert into decisions (point_id, decision, reason, who, at) values "
    "('p1', 'accepted', '', 'editor', '2026-01-01T00:00:00+00:00')",
    "snapshots": "insert into snapshots values ('S-1', 'LPB-2026-01', 'pcp-2025-29', '2025-12', "
    "3, '2026-01-02T00:00:00+00:00', 'editor', x'00ff', '[]')",
    "audit": 'insert into audit (at, who, "table", record_id, action, before, after) values '
    "('2026-01-01T00:00:00+00:00', 'editor', 'actions', 'A-1', 'insert', null, '{}')",
}


def first_release_store(path: Path) -> None:
    """A store as the first release wrote it: its schema and meta, user_version never set."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("pragma journal_mode = wal")
        con.executescript("begin;" + governance.MIGRATIONS[0][2] + "commit;")
        con.execute(
            "insert into meta values ('schema_version', '1'), "
            "('created_at', '2025-06-01T09:00:00+00:00')"
        )
        for sql in ROWS.values():
            con.execute(sql)
    finally:
        con.close()


def table_rows(path: Path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(path)
    try:
        return {t: sorted(con.execute(f'select * from "{t}"').fetchall()) for t in ROWS}
    finally:
        con.close()


def header_version(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("pragma user_version").fetchone()[0]
    finally:
        con.close()


def test_a_first_release_store_is_migrated_without_losing_a_row(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    first_release_store(path)
    before = table_rows(path)
    assert header_version(path) == 0
    assert all(len(rows) == 1 for rows in before.values())
    store = governance.StateStore(path)
    assert header_version(path) == governance.SCHEMA_VERSION
    assert store.schema_version() == governance.SCHEMA_VERSION
    assert table_rows(path) == before
    con = sqlite3.connect(path)
    try:
        created = con.execute("select value from meta where key = 'created_at'").fetchone()
    finally:
        con.close()
    assert created == ("2025-06-01T09:00:00+00:00",)
    # Opening again applies nothing more.
    governance.StateStore(path)
    assert table_rows(path) == before


def test_a_new_store_records_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    governance.StateStore(path)
    assert header_version(path) == governance.SCHEMA_VERSION == governance.MIGRATIONS[-1][0]


def test_migration_numbers_run_one_to_latest() -> None:
    numbers = [n for n, _, _ in governance.MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("where", ["user_version", "meta"])
def test_a_store_from_a_newer_version_is_refused_unwritten(tmp_path: Path, where: str) -> None:
    path = tmp_path / "newer.sqlite"
    first_release_store(path)
    con = sqlite3.connect(path)
    try:
        if where == "user_version":
            con.execute(f"pragma user_version = {governance.SCHEMA_VERSION + 1}")
        else:
            con.execute(
                "update meta set value = ? where key = 'schema_version'",
                [str(governance.SCHEMA_VERSION + 1)],
            )
        con.commit()
        con.execute("pragma wal_checkpoint(truncate)")
    finally:
        con.close()
    digest = sha(path)
    with pytest.raises(governance.StateError, match="newer version"):
        governance.StateStore(path)
    assert sha(path) == digest
    with pytest.raises(governance.StateError, match="newer than this dashboard"):
        governance.validate_store_file(path)
