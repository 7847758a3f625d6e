"""The analysts' SQL sandbox: only single read-only queries run, within the row and time limits.

Every escape an analyst's query could try (files, ATTACH, COPY, extensions, settings, writes,
a second statement) is refused, both by the statement check and, separately, by the
locked-down connection itself; a runaway query is stopped; ``python -m oversight sql`` exits
2 with the refusal on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from oversight import sandbox
from oversight.sandbox import SandboxLimits, SandboxRefused, run_query
from oversight.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]
CROSS_JOIN = "select sum(a.range * b.range) from range(1000000) a, range(1000000) b"
FAST = SandboxLimits(row_cap=100, time_limit_seconds=2, memory_limit="256MB", threads=2)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small warehouse with a marts schema, plus a private file beside it."""
    folder = tmp_path_factory.mktemp("sandbox")
    path = folder / "oversight.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.offences as "
        "select range as id, 'borough ' || (range % 5) as borough, range % 7 as offences "
        "from range(50)"
    )
    con.close()
    (folder / "private.csv").write_text("secret\nvalue\n", encoding="utf-8")
    return path


def offences_total(path: Path) -> int:
    with connect(path) as con:
        return con.execute("select sum(offences) from marts.offences").fetchall()[0][0]


ESCAPES = {
    "read_csv": "select * from read_csv('{folder}/private.csv')",
    "read_csv_auto": "select * from read_csv_auto('{folder}/private.csv')",
    "read_text": "select * from read_text('{folder}/private.csv')",
    "read_blob": "select * from read_blob('/etc/passwd')",
    "read_parquet": "select * from read_parquet('{folder}/*.parquet')",
    "glob": "select * from glob('{folder}/*')",
    "file_scan": "from '{folder}/private.csv'",
    "secrets": "select * from duckdb_secrets()",
    "attach": "attach '{folder}/other.duckdb' as other",
    "attach_in_cte": "with x as (select 1) select * from x; attach '{folder}/other.duckdb'",
    "detach": "detach warehouse",
    "copy_to": "copy (select * from marts.offences) to '{folder}/out.csv'",
    "copy_from": "copy marts.offences from '{folder}/private.csv'",
    "explain_copy": "explain copy (select 1) to '{folder}/out.csv'",
    "export": "export database '{folder}/export'",
    "install": "install httpfs",
    "load": "load httpfs",
    "set": "set enable_external_access = true",
    "set_memory": "set memory_limit = '64GB'",
    "reset": "reset memory_limit",
    "pragma": "pragma enable_profiling",
    "use": "use memory",
    "call": "call pragma_version()",
    "checkpoint": "checkpoint",
    "create": "create table marts.extra as select 1 as x",
    "create_temp": "create temp table scratch as select 1 as x",
    "insert": "insert into marts.offences values (99, 'x', 1)",
    "cte_insert": "with x as (select 99, 'x', 1) insert into marts.offences select * from x",
    "update": "update marts.offences set offences = 0",
    "delete": "delete from marts.offences",
    "drop": "drop table marts.offences",
    "alter": "alter table marts.offences add column y int",
    "multi_statement": "select 1; drop table marts.offences",
    "multi_selects": "select 1; select 2",
    "comment_hides_drop": "/* select */ drop table marts.offences",
    "empty": "   ",
    "only_comment": "-- select 1",
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_is_refused_and_changes_nothing(warehouse: Path, name: str) -> None:
    folder = warehouse.parent
    before = offences_total(warehouse)
    with pytest.raises(SandboxRefused) as refused:
        run_query(warehouse, ESCAPES[name].format(folder=folder), FAST)
    assert refused.value.reason in {"refused", "not_allowed", "error"}
    assert refused.value.message  # a sentence for the user
    assert offences_total(warehouse) == before
    assert not (folder / "out.csv").exists()
    assert not (folder / "other.duckdb").exists()
    assert not (folder / "export").exists()


def test_refusal_names_what_is_allowed(warehouse: Path) -> None:
    with pytest.raises(SandboxRefused, match="starts with DROP") as refused:
        run_query(warehouse, "drop table marts.offences", FAST)
    assert "SELECT" in refused.value.message
    with pytest.raises(SandboxRefused, match="one statement"):
        run_query(warehouse, "select 1; drop table marts.offences", FAST)


def test_file_function_is_refused_by_the_connection(warehouse: Path) -> None:
    """read_csv is a SELECT, so the statement check lets it through: the connection refuses."""
    with pytest.raises(SandboxRefused) as refused:
        run_query(warehouse, f"select * from read_csv('{warehouse.parent}/private.csv')", FAST)
    assert refused.value.reason == "not_allowed"


def test_python_variables_are_not_readable(warehouse: Path) -> None:
    secret_frame = pd.DataFrame({"secret": ["value"]})  # noqa: F841 - the bait
    with pytest.raises(SandboxRefused):
        run_query(warehouse, "select * from secret_frame", FAST)


@pytest.mark.parametrize(
    "statement",
    [
        "set enable_external_access = true",
        "set lock_configuration = false",
        "set memory_limit = '64GB'",
        "reset memory_limit",
        "create table marts.extra as select 1",
        "drop table marts.offences",
        "attach '{folder}/other.duckdb' as other",
        "copy (select 1) to '{folder}/out.csv'",
        "select * from read_text('{folder}/private.csv')",
        "install httpfs",
        "load httpfs",
    ],
)
def test_connection_itself_refuses(warehouse: Path, statement: str) -> None:
    """The second gate: the locked-down connection refuses even if the check were bypassed."""
    con = sandbox.open_sandbox(warehouse, FAST)
    try:
        with pytest.raises(duckdb.Error):
            con.execute(statement.format(folder=warehouse.parent))
        settings = dict(
            con.execute(
                "select name, value from duckdb_settings() where name in "
                "('enable_external_access', 'lock_configuration', 'autoload_known_extensions', "
                "'autoinstall_known_extensions', 'allow_community_extensions', 'threads')"
            ).fetchall()
        )
    finally:
        con.close()
    assert settings == {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "autoload_known_extensions": "false",
        "autoinstall_known_extensions": "false",
        "allow_community_extensions": "false",
        "threads": "2",
    }
    assert not (warehouse.parent / "out.csv").exists()


@pytest.mark.parametrize(
    "query",
    [
        "with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r",
        CROSS_JOIN,
    ],
    ids=["recursive_cte", "cross_join"],
)
def test_runaway_query_is_stopped_within_the_time_limit(warehouse: Path, query: str) -> None:
    started = time.monotonic()
    with pytest.raises(SandboxRefused) as stopped:
        run_query(warehouse, query, FAST)
    elapsed = time.monotonic() - started
    assert stopped.value.reason in {"time_limit", "memory_limit"}
    assert elapsed < FAST.time_limit_seconds + 3
    assert offences_total(warehouse) == sum(i % 7 for i in range(50))  # still readable


def test_cross_join_is_stopped_by_the_timer(warehouse: Path) -> None:
    with pytest.raises(SandboxRefused, match="stopped after 2 s") as stopped:
        run_query(warehouse, CROSS_JOIN, FAST)
    assert stopped.value.reason == "time_limit"


def test_rows_are_capped(warehouse: Path) -> None:
    limits = SandboxLimits(row_cap=10, time_limit_seconds=5)
    capped = run_query(warehouse, "select * from marts.offences order by id", limits)
    assert len(capped.frame) == 10
    assert capped.truncated
    assert capped.frame["id"].tolist() == list(range(10))
    exact = run_query(warehouse, "select * from marts.offences where id < 10", limits)
    assert len(exact.frame) == 10
    assert not exact.truncated
    huge = run_query(warehouse, "select * from range(1000000000)", limits)
    assert len(huge.frame) == 10
    assert huge.truncated


@pytest.mark.parametrize(
    "query",
    [
        "select borough, sum(offences) as offences from marts.offences group by 1 order by 1",
        "with b as (select * from marts.offences) select count(*) from b",
        "from marts.offences",
        "-- a comment first\nselect 1;",
        "(select 1)",
        "describe marts.offences",
        "show all tables",
        "summarize marts.offences",
        "explain select * from marts.offences",
        "explain analyze select count(*) from marts.offences",
    ],
)
def test_read_only_queries_run(warehouse: Path, query: str) -> None:
    result = run_query(warehouse, query, FAST)
    assert not result.frame.empty
    assert not result.truncated


def test_results_match_an_independent_read(warehouse: Path) -> None:
    query = "select borough, sum(offences) as offences from marts.offences group by 1 order by 1"
    result = run_query(warehouse, query, FAST)
    with connect(warehouse) as con:
        expected = con.execute(query).fetchall()
    assert [tuple(r) for r in result.frame.itertuples(index=False)] == expected
    assert str(result.frame["offences"].dtype) == "Int64"  # a SUM stays a whole number


def test_app_reads_work_while_a_console_query_runs(warehouse: Path) -> None:
    """The console's connection must not clash with the app's own read-only connections."""
    with connect(warehouse) as app_con:
        result = run_query(warehouse, "select count(*) as n from marts.offences", FAST)
        assert app_con.execute("select count(*) from marts.offences").fetchall()[0][0] == 50
    assert result.frame["n"].tolist() == [50]


def test_limits_come_from_config(tmp_path: Path) -> None:
    limits = sandbox.load_limits()
    assert limits == SandboxLimits(10_000, 10, "512MB", 2)
    bad = tmp_path / "sandbox.yaml"
    bad.write_text("row_cap: 10\nrows_cap: 5\n", encoding="utf-8")
    with pytest.raises(ValueError, match="rows_cap"):
        sandbox.load_limits(bad)
    bad.write_text("memory_limit: lots\n", encoding="utf-8")
    with pytest.raises(ValueError, match="memory_limit"):
        sandbox.load_limits(bad)


def test_missing_warehouse_is_named(tmp_path: Path) -> None:
    with pytest.raises(SandboxRefused, match="No warehouse") as refused:
        run_query(tmp_path / "none.duckdb", "select 1", FAST)
    assert refused.value.reason == "no_warehouse"


# --- the command line -------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m oversight`` in internal mode (sql is an internal command)."""
    return subprocess.run(
        [sys.executable, "-m", "oversight", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "OVERSIGHT_MODE": "internal"},
    )  # fmt: skip


def test_cli_prints_results(warehouse: Path) -> None:
    query = "select borough, sum(offences) as offences from marts.offences group by 1 order by 1"
    run = cli("sql", query, "--warehouse", str(warehouse), "--format", "csv")
    assert run.returncode == 0, run.stderr
    with connect(warehouse) as con:
        expected = con.execute(query).fetchall()
    assert run.stdout.splitlines()[0] == "borough,offences"
    assert run.stdout.splitlines()[1:] == [f"{b},{o}" for b, o in expected]
    assert "5 rows" in run.stderr


def test_cli_global_warehouse_option_and_json(warehouse: Path) -> None:
    run = cli("--warehouse", str(warehouse), "sql", "from marts.offences", "--format", "json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert len(rows) == 50
    assert rows[0] == {"id": 0, "borough": "borough 0", "offences": 0}


def test_cli_refusal_exits_2_on_stderr(warehouse: Path) -> None:
    run = cli("sql", "select 1; drop table marts.offences", "--warehouse", str(warehouse))
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.startswith("Refused: Only one statement")
    assert offences_total(warehouse) == sum(i % 7 for i in range(50))
    run = cli("sql", f"select * from read_text('{warehouse.parent}/private.csv')",
              "--warehouse", str(warehouse))  # fmt: skip
    assert run.returncode == 2
    assert "secret" not in run.stdout + run.stderr


def test_cli_missing_warehouse_exits_1(tmp_path: Path) -> None:
    run = cli("sql", "select 1", "--warehouse", str(tmp_path / "none.duckdb"))
    assert run.returncode == 1
    assert "No warehouse" in run.stderr


# --- the limits hold for the whole of a query's life ------------------------------------------

WIDE_RESULT = "select repeat('x', 10000) as s from range(100000)"  # 10,000 rows cut: 100 MB
HOSTILE = {
    "megabyte_strings": "select repeat('A', 1000000) as x from range(2000)",
    "hundred_million_list": "select range(0, 100000000) as l",
}
BOUNDED = SandboxLimits(
    row_cap=10_000,
    time_limit_seconds=4,
    memory_limit="256MB",
    threads=2,
    result_limit="8MB",
    process_memory_limit="768MB",
)
# What a worker holds before its query (Python, DuckDB, pyarrow and the open warehouse, about
# 110-160 MB), on top of which RLIMIT_AS lets it grow by process_memory_limit.
WORKER_BASE_MB = 200


class PeakSampler:
    """The highest resident memory of this process and of its children, sampled every 20 ms."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.me = psutil.Process()
        self.start_mb = self.me.memory_info().rss / 2**20
        self.own_mb = self.start_mb
        self.child_mb = 0.0
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        import psutil

        while self.running:
            self.own_mb = max(self.own_mb, self.me.memory_info().rss / 2**20)
            for child in self.me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self.child_mb = max(self.child_mb, child.memory_info().rss / 2**20)
            time.sleep(0.02)

    def __enter__(self) -> PeakSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()


def test_a_wide_result_is_stopped_at_the_result_limit(warehouse: Path) -> None:
    """10,000 rows of 10 kB would be 100 MB back in the app: stopped with a sentence instead."""
    with PeakSampler() as peak, pytest.raises(SandboxRefused) as stopped:
        run_query(warehouse, WIDE_RESULT, BOUNDED)
    assert stopped.value.reason == "result_limit"
    assert "the result would exceed 8MB" in stopped.value.message
    assert peak.own_mb - peak.start_mb < 100  # the rows never reached this process


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_result_stays_within_memory_and_time(warehouse: Path, name: str) -> None:
    """Gigabytes to materialise: stopped in the worker, within its memory cap and the time."""
    started = time.monotonic()
    with PeakSampler() as peak, pytest.raises(SandboxRefused) as stopped:
        run_query(warehouse, HOSTILE[name], BOUNDED)
    elapsed = time.monotonic() - started
    assert stopped.value.reason in {"memory_limit", "result_limit", "time_limit"}
    assert "stopped" in stopped.value.message
    assert elapsed < BOUNDED.time_limit_seconds + 1
    cap_mb = BOUNDED.process_bytes / 2**20 + WORKER_BASE_MB
    assert stopped.value.peak_mb is not None
    assert stopped.value.peak_mb < cap_mb
    assert peak.child_mb < cap_mb
    assert peak.own_mb - peak.start_mb < 100  # the app's own process did not grow


def test_the_time_limit_holds_to_within_a_second(warehouse: Path) -> None:
    started = time.monotonic()
    with pytest.raises(SandboxRefused, match="stopped after 2 s") as stopped:
        run_query(warehouse, CROSS_JOIN, FAST)
    elapsed = time.monotonic() - started
    assert stopped.value.reason == "time_limit"
    assert FAST.time_limit_seconds <= elapsed < FAST.time_limit_seconds + 1
    assert offences_total(warehouse) == sum(i % 7 for i in range(50))


def test_a_result_under_the_limits_comes_back_whole(warehouse: Path) -> None:
    """Just under the result limit (10,000 rows of 500 bytes, 5 MB): every row arrives."""
    result = run_query(warehouse, "select repeat('y', 500) as s from range(10000)", BOUNDED)
    assert len(result.frame) == 10_000
    assert not result.truncated
    assert set(result.frame["s"].str.len()) == {500}
    assert result.peak_mb is not None
    assert result.peak_mb < BOUNDED.process_bytes / 2**20 + WORKER_BASE_MB


def test_a_spare_worker_is_kept_only_when_asked(warehouse: Path) -> None:
    sandbox.POOL.close()
    run_query(warehouse, "select 1 as one", FAST, keep_warm=False)
    assert sandbox.POOL._spare is None
    run_query(warehouse, "select 1 as one", FAST)
    spare = sandbox.POOL._spare
    assert spare is not None
    assert spare.poll() is None  # started and waiting for the next query
    result = run_query(warehouse, "select 2 as two", FAST)
    assert result.frame["two"].tolist() == [2]
    assert spare.wait(timeout=10) == 0  # it ran that query and exited
    assert sandbox.POOL._spare is not spare


def test_limits_in_config_are_checked_against_each_other(tmp_path: Path) -> None:
    bad = tmp_path / "sandbox.yaml"
    bad.write_text("result_limit: 2GB\nprocess_memory_limit: 1GB\n", encoding="utf-8")
    with pytest.raises(ValueError, match="result_limit must be smaller"):
        sandbox.load_limits(bad)
    bad.write_text("process_memory_limit: plenty\n", encoding="utf-8")
    with pytest.raises(ValueError, match="process_memory_limit"):
        sandbox.load_limits(bad)
