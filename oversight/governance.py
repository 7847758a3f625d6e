"""The app-state store: the Board forward plan, actions, risks, decisions and snapshots.

The London Policing Board's forward plan, its actions log and risk register, decisions on
challenge points and the figures frozen for a meeting are made by people and cannot be rebuilt
from the published data, so they live in their own SQLite database (WAL journal, foreign keys
on) under ``data/state/`` (``settings.state``, ``OVERSIGHT_STATE``), never in the warehouse the
pipeline replaces. Every change writes a row to the ``audit`` table with who made it and the
record before and after, in the same transaction as the change.

Writes need a ``who`` (the signed-in viewer's name or e-mail): a reader's session passes
``None`` and is refused. Faults (a corrupt, unwritable or locked file) raise :class:`StateError`
with a plain sentence; the store never writes to a file it has not recognised as a store.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 5.0

BODIES = (
    "London Policing Board",
    "Performance and Finance Delivery Committee",
    "People and Culture Committee",
)
BODY_CODES = {
    "London Policing Board": "LPB",
    "Performance and Finance Delivery Committee": "PFDC",
    "People and Culture Committee": "PCC",
}
MEETING_STATUSES = ("planned", "papers issued", "held", "cancelled")
ACTION_STATUSES = ("open", "in progress", "done", "closed")
ACTION_FINISHED = ("done", "closed")
RISK_STATUSES = ("open", "monitoring", "closed")
DECISIONS = ("accepted", "edited", "dismissed")

MEETING_COLUMNS = ["meeting_id", "body", "date", "theme", "papers_due", "status"]
AGENDA_COLUMNS = ["item_id", "meeting_id", "title", "priority_id", "measure_ids", "lead"]
ACTION_COLUMNS = ["action_id", "action", "owner", "due", "status", "meeting_id", "measure_id"]
RISK_COLUMNS = [
    "risk_id", "title", "owner", "likelihood", "impact", "measure_ids", "status",
]  # fmt: skip
DECISION_COLUMNS = [
    "decision_id", "point_id", "decision", "reason", "edited_finding", "edited_question",
    "who", "at",
]  # fmt: skip
SNAPSHOT_COLUMNS = [
    "snapshot_id", "meeting_id", "plan_id", "as_at", "warehouse_version", "frozen_at",
    "frozen_by", "figures", "points",
]  # fmt: skip
AUDIT_COLUMNS = ["audit_id", "at", "who", "table", "record_id", "action", "before", "after"]

# Exported and imported in this order so foreign keys hold.
# The audit trail first, so its history keeps its order ahead of the import's own records.
EXPORT_TABLES = (
    "audit", "meetings", "agenda_items", "actions", "risks", "decisions", "snapshots",
)  # fmt: skip

SCHEMA = """
create table meta (key text primary key, value text not null);
create table meetings (
    meeting_id text primary key,
    body text not null,
    date text not null,
    theme text not null default '',
    papers_due text,
    status text not null default 'planned'
);
create table agenda_items (
    item_id text primary key,
    meeting_id text not null references meetings(meeting_id) on delete cascade,
    title text not null,
    priority_id text,
    measure_ids text not null default '',
    lead text not null default ''
);
create table actions (
    action_id text primary key,
    action text not null,
    owner text not null default '',
    due text,
    status text not null default 'open',
    meeting_id text references meetings(meeting_id) on delete set null,
    measure_id text
);
create table risks (
    risk_id text primary key,
    title text not null,
    owner text not null default '',
    likelihood integer not null check (likelihood between 1 and 5),
    impact integer not null check (impact between 1 and 5),
    measure_ids text not null default '',
    status text not null default 'open'
);
create table decisions (
    decision_id integer primary key autoincrement,
    point_id text not null,
    decision text not null,
    reason text not null default '',
    edited_finding text,
    edited_question text,
    who text not null,
    at text not null
);
create table snapshots (
    snapshot_id text primary key,
    meeting_id text references meetings(meeting_id) on delete set null,
    plan_id text not null,
    as_at text,
    warehouse_version integer,
    frozen_at text not null,
    frozen_by text not null,
    figures blob not null,
    points text not null
);
create table audit (
    audit_id integer primary key autoincrement,
    at text not null,
    who text not null,
    "table" text not null,
    record_id text not null,
    action text not null,
    before text,
    after text
);
create index agenda_by_meeting on agenda_items(meeting_id);
create index decisions_by_point on decisions(point_id, decision_id);
"""

# The store's migrations, in order: step N takes a store at schema N - 1 to schema N, and the
# schema's number is kept in SQLite's header (PRAGMA user_version) and in meta.schema_version.
# Step 1 is the schema of the first release (a store it wrote has user_version 0 and
# meta.schema_version 1; opening it records version 1 and changes nothing else). To change the
# schema, append a step; never edit one that has shipped.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "meetings, agenda, actions, risks, decisions, snapshots and the audit trail", SCHEMA),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

TABLES = frozenset(
    {"meta", "meetings", "agenda_items", "actions", "risks", "decisions", "snapshots", "audit"}
)


class StateError(RuntimeError):
    """The state store cannot be used: corrupt, unwritable, locked, or the input is invalid."""


class ReadOnlyError(StateError):
    """A write was attempted without a named editor (a reader's session)."""


# --- small helpers -----------------------------------------------------------------------------


def now_text() -> str:
    """The current UTC time as ISO text (seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def to_date(value: Any, name: str) -> date | None:
    """A date from a date, Timestamp or ISO text (None for empty)."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise StateError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from exc


def date_text(value: Any, name: str) -> str | None:
    found = to_date(value, name)
    return None if found is None else found.isoformat()


def clean_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value).strip()


def measure_list(value: Any) -> str:
    """Measure ids as a comma list without blanks or repeats (accepts a list or text)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return ",".join(dict.fromkeys(i.strip() for i in items if i.strip()))


def split_measures(value: Any) -> list[str]:
    return [m for m in measure_list(value).split(",") if m]


def financial_quarter(day: date | None) -> str | None:
    """The UK financial-year quarter of a date, e.g. 2026-10-05 -> '2026-27 Q3'."""
    if day is None:
        return None
    start = day.year if day.month >= 4 else day.year - 1
    quarter = (day.month - 4) % 12 // 3 + 1
    return f"{start}-{(start + 1) % 100:02d} Q{quarter}"


def json_value(value: Any) -> Any:
    """A value JSON can hold: dates as ISO text, numpy scalars as Python, NaN as null."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return json_value(value.item())
    if isinstance(value, float) and pd.isna(value):
        return None
    return value


def dumps(value: Any) -> str:
    return json.dumps(json_value(value), sort_keys=True, default=str)


def frame_to_bytes(frame: pd.DataFrame) -> bytes:
    """A DataFrame as Parquet bytes: types and values come back exactly."""
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    return buffer.getvalue()


def frame_from_bytes(blob: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(blob))


def plain_message(exc: sqlite3.Error, path: Path) -> str:
    """A sentence for a SQLite fault, naming the file."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return f"The state store {path} is locked by another process; try again in a moment."
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return (
            f"The state store {path} cannot be written (check the folder's permissions and "
            "free space). Nothing was changed."
        )
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return (
            f"The state store {path} is damaged and cannot be read. Restore it from a backup "
            "(`python -m oversight state restore FILE`). Nothing was changed."
        )
    return f"The state store {path} could not be used: {exc}."


def check_header(path: Path) -> None:
    """Refuse a non-empty file that is not a SQLite database, before SQLite touches it."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except (FileNotFoundError, NotADirectoryError):
        return  # a new store: creating it reports any problem with the folder
    except OSError as exc:
        raise StateError(f"The state store {path} cannot be read: {exc.strerror}.") from exc
    if head and head != SQLITE_HEADER:
        raise StateError(
            f"{path} is not an oversight state store (it is not a SQLite database, or it is "
            "damaged). Nothing was changed."
        )


def read_schema_version(con: sqlite3.Connection, path: Path) -> int | None:
    """The store's schema version; None for an empty database; StateError for anything else."""
    names = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
    names.discard("sqlite_sequence")
    if not names:
        return None
    if "meta" not in names:
        raise StateError(
            f"{path} is a SQLite database but not an oversight state store (no schema "
            "version). Nothing was changed."
        )
    row = con.execute("select value from meta where key = 'schema_version'").fetchone()
    if row is None or not str(row[0]).isdigit():
        raise StateError(f"{path} has no readable schema version. Nothing was changed.")
    return int(row[0])


def user_version(con: sqlite3.Connection) -> int:
    """The schema number in the SQLite header (PRAGMA user_version); 0 if never set."""
    return int(con.execute("pragma user_version").fetchone()[0])


def stored_version(con: sqlite3.Connection, path: Path) -> int | None:
    """The store's schema: the higher of user_version and meta's; None for an empty database."""
    version = read_schema_version(con, path)
    if version is None:
        return None
    return max(version, user_version(con))


def migrate(con: sqlite3.Connection, path: Path, version: int) -> None:
    """Apply the migration steps after ``version`` in order, in one transaction.

    The steps, meta.schema_version and user_version commit together or not at all, so a store
    is never left half-migrated. A store already at the latest schema is not written to.
    """
    steps = [(n, what, sql) for n, what, sql in MIGRATIONS if n > version]
    if not steps and user_version(con) == version:
        return
    con.execute("begin immediate")
    try:
        for number, what, sql in steps:
            for statement in split_statements(sql):
                con.execute(statement)
            logger.info("state store %s: migration %d (%s)", path, number, what)
        if version == 0:
            con.execute("insert into meta values ('created_at', ?)", [now_text()])
        con.execute(
            "insert into meta values ('schema_version', ?) "
            "on conflict (key) do update set value = excluded.value",
            [str(SCHEMA_VERSION)],
        )
        con.execute(f"pragma user_version = {int(SCHEMA_VERSION)}")
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    logger.info("state store %s at schema %d (was %d)", path, SCHEMA_VERSION, version)


def split_statements(sql: str) -> list[str]:
    """The statements of a migration step (its SQL holds no ';' inside a literal)."""
    return [part.strip() for part in sql.split(";") if part.strip()]


def require_editor(who: str | None) -> None:
    """Refuse a write without a named editor (a reader's session passes None)."""
    if who is None or not str(who).strip():
        raise ReadOnlyError("Only an editor can change the forward plan, actions or risks.")


# --- the store ---------------------------------------------------------------------------------


class StateStore:
    """The SQLite app-state store at ``path`` (created with its schema if absent).

    Each call opens its own short-lived connection, so a store object may be shared across
    Streamlit reruns and threads. Reads return DataFrames with dates as ``datetime.date``.
    """

    def __init__(self, path: Path) -> None:
        """Open (creating the folder and a versioned schema if new) the store at ``path``."""
        self.path = Path(path)
        try:
            check_header(self.path)
        except StateError as exc:
            advice = " Restore it from a backup (`python -m oversight state restore FILE`)."
            raise StateError(f"{exc}{advice}") from exc
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"The folder for the state store {self.path.parent} cannot be created: "
                f"{exc.strerror}."
            ) from exc
        with self._connect() as con:
            version = stored_version(con, self.path)
            if version is not None and version > SCHEMA_VERSION:
                raise StateError(
                    f"{self.path} was written by a newer version of this dashboard (schema "
                    f"{version}; this one knows {SCHEMA_VERSION}). Nothing was changed."
                )
            if version is not None:
                check = con.execute("pragma quick_check").fetchone()[0]
                if check != "ok":
                    raise StateError(
                        f"The state store {self.path} is damaged ({check}). Restore it from a "
                        "backup. Nothing was changed."
                    )
            else:
                con.execute("pragma journal_mode = wal")
            migrate(con, self.path, version or 0)
            mode = con.execute("pragma journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                con.execute("pragma journal_mode = wal")

    # connection and transactions

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection with foreign keys on; SQLite faults become StateError."""
        con = None
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            con.row_factory = sqlite3.Row
            con.execute("pragma foreign_keys = on")
            yield con
        except sqlite3.Error as exc:
            raise StateError(plain_message(exc, self.path)) from exc
        finally:
            if con is not None:
                con.close()

    @contextlib.contextmanager
    def _write(self, who: str | None) -> Iterator[sqlite3.Connection]:
        """A write transaction (rolled back on any error) for a named editor."""
        require_editor(who)
        with self._connect() as con:
            con.execute("begin immediate")
            try:
                yield con
            except BaseException:
                con.execute("rollback")
                raise
            con.execute("commit")

    def schema_version(self) -> int:
        with self._connect() as con:
            return read_schema_version(con, self.path) or 0

    def _frame(self, sql: str, params: tuple = (), columns: list[str] | None = None):
        with self._connect() as con:
            rows = [dict(r) for r in con.execute(sql, params).fetchall()]
        return pd.DataFrame(rows, columns=columns) if columns else pd.DataFrame(rows)

    @staticmethod
    def _row(con: sqlite3.Connection, table: str, key: str, value: str) -> dict | None:
        found = con.execute(f"select * from {table} where {key} = ?", [value]).fetchone()
        return None if found is None else dict(found)

    @staticmethod
    def _audit(
        con: sqlite3.Connection,
        who: str,
        table: str,
        record_id: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> None:
        action = "insert" if before is None else "delete" if after is None else "update"
        con.execute(
            'insert into audit (at, who, "table", record_id, action, before, after) '
            "values (?, ?, ?, ?, ?, ?, ?)",
            [
                now_text(),
                str(who),
                table,
                record_id,
                action,
                None if before is None else dumps(before),
                None if after is None else dumps(after),
            ],
        )

    def _upsert(
        self, con: sqlite3.Connection, who: str, table: str, key: str, record: dict[str, Any]
    ) -> str:
        """Insert or replace one record and audit it (no audit row when nothing changed)."""
        before = self._row(con, table, key, record[key])
        if before == record:
            return record[key]
        columns = list(record)
        if before is None:
            con.execute(
                f"insert into {table} ({', '.join(columns)}) "
                f"values ({', '.join('?' for _ in columns)})",
                [record[c] for c in columns],
            )
        else:
            sets = ", ".join(f"{c} = ?" for c in columns if c != key)
            con.execute(
                f"update {table} set {sets} where {key} = ?",
                [record[c] for c in columns if c != key] + [record[key]],
            )
        self._audit(con, who, table, record[key], before, record)
        return record[key]

    @staticmethod
    def _next_id(con: sqlite3.Connection, table: str, key: str, prefix: str) -> str:
        rows = con.execute(
            f"select {key} from {table} where {key} like ?", [f"{prefix}%"]
        ).fetchall()
        numbers = [int(r[0][len(prefix) :]) for r in rows if r[0][len(prefix) :].isdigit()]
        return f"{prefix}{max(numbers, default=0) + 1:03d}"

    def _delete(
        self, con: sqlite3.Connection, who: str, table: str, key: str, record_id: str
    ) -> None:
        before = self._row(con, table, key, record_id)
        if before is None:
            raise StateError(f"No {table[:-1].replace('_', ' ')} {record_id!r} to delete.")
        con.execute(f"delete from {table} where {key} = ?", [record_id])
        self._audit(con, who, table, record_id, before, None)

    def _delete_one(self, table: str, key: str, record_id: str, who: str | None) -> None:
        with self._write(who) as con:
            self._delete(con, str(who), table, key, record_id)

    # meetings and agenda

    def meetings(self) -> pd.DataFrame:
        """Meetings of the Board and its committees, by date."""
        frame = self._frame("select * from meetings order by date, body", (), MEETING_COLUMNS)
        for column in ("date", "papers_due"):
            frame[column] = [to_date(v, column) for v in frame[column]]
        return frame

    def save_meeting(self, meeting: dict, who: str | None) -> str:
        """Add or update a meeting; returns its id (``LPB-2026-07-16`` style when new)."""
        body = clean_text(meeting.get("body"))
        if body not in BODIES:
            raise StateError(f"body must be one of: {', '.join(BODIES)}; got {body!r}")
        day = to_date(meeting.get("date"), "date")
        if day is None:
            raise StateError("A meeting needs a date.")
        status = clean_text(meeting.get("status")) or "planned"
        if status not in MEETING_STATUSES:
            raise StateError(f"meeting status must be one of {MEETING_STATUSES}, got {status!r}")
        papers = to_date(meeting.get("papers_due"), "papers_due")
        if papers is not None and papers > day:
            raise StateError("Papers cannot be due after the meeting.")
        with self._write(who) as con:
            meeting_id = clean_text(meeting.get("meeting_id"))
            if not meeting_id:
                meeting_id = f"{BODY_CODES[body]}-{day.isoformat()}"
                if self._row(con, "meetings", "meeting_id", meeting_id) is not None:
                    meeting_id = self._next_id(con, "meetings", "meeting_id", meeting_id + "-")
            record = {
                "meeting_id": meeting_id,
                "body": body,
                "date": day.isoformat(),
                "theme": clean_text(meeting.get("theme")),
                "papers_due": None if papers is None else papers.isoformat(),
                "status": status,
            }
            return self._upsert(con, str(who), "meetings", "meeting_id", record)

    def delete_meeting(self, meeting_id: str, who: str | None) -> None:
        """Remove a meeting and its agenda (its actions and snapshots stay, unlinked)."""
        with self._write(who) as con:
            items = con.execute(
                "select item_id from agenda_items where meeting_id = ?", [meeting_id]
            ).fetchall()
            for (item_id,) in items:
                self._delete(con, str(who), "agenda_items", "item_id", item_id)
            for table, key in (("actions", "action_id"), ("snapshots", "snapshot_id")):
                linked = con.execute(
                    f"select {key} from {table} where meeting_id = ?", [meeting_id]
                ).fetchall()
                for (record_id,) in linked:
                    before = self._row(con, table, key, record_id)
                    con.execute(
                        f"update {table} set meeting_id = null where {key} = ?", [record_id]
                    )
                    after = self._row(con, table, key, record_id)
                    before.pop("figures", None)
                    after.pop("figures", None)
                    self._audit(con, str(who), table, record_id, before, after)
            self._delete(con, str(who), "meetings", "meeting_id", meeting_id)

    def agenda(self, meeting_id: str | None = None) -> pd.DataFrame:
        """Agenda items of one meeting (all meetings when ``meeting_id`` is None)."""
        if meeting_id is None:
            return self._frame("select * from agenda_items order by item_id", (), AGENDA_COLUMNS)
        return self._frame(
            "select * from agenda_items where meeting_id = ? order by item_id",
            (meeting_id,),
            AGENDA_COLUMNS,
        )

    def save_agenda_item(self, item: dict, who: str | None) -> str:
        """Add or update an agenda item (needs an existing ``meeting_id``); returns its id."""
        title = clean_text(item.get("title"))
        if not title:
            raise StateError("An agenda item needs a title.")
        meeting_id = clean_text(item.get("meeting_id"))
        with self._write(who) as con:
            if self._row(con, "meetings", "meeting_id", meeting_id) is None:
                raise StateError(f"No meeting {meeting_id!r} for this agenda item.")
            item_id = clean_text(item.get("item_id")) or self._next_id(
                con, "agenda_items", "item_id", f"{meeting_id}/"
            )
            record = {
                "item_id": item_id,
                "meeting_id": meeting_id,
                "title": title,
                "priority_id": clean_text(item.get("priority_id")) or None,
                "measure_ids": measure_list(item.get("measure_ids")),
                "lead": clean_text(item.get("lead")),
            }
            return self._upsert(con, str(who), "agenda_items", "item_id", record)

    def delete_agenda_item(self, item_id: str, who: str | None) -> None:
        self._delete_one("agenda_items", "item_id", item_id, who)

    # actions

    def actions(self, *, today: date | None = None) -> pd.DataFrame:
        """The actions log, with ``overdue`` judged against ``today`` and a financial quarter."""
        today = today or date.today()
        frame = self._frame("select * from actions order by due, action_id", (), ACTION_COLUMNS)
        frame["due"] = [to_date(v, "due") for v in frame["due"]]
        frame["overdue"] = [
            bool(d is not None and d < today and s not in ACTION_FINISHED)
            for d, s in zip(frame["due"], frame["status"], strict=True)
        ]
        frame["quarter"] = [financial_quarter(d) for d in frame["due"]]
        return frame.astype({"overdue": bool})

    def save_action(self, action: dict, who: str | None) -> str:
        """Add or update an action; returns its id (``A-001`` style when new)."""
        text = clean_text(action.get("action"))
        if not text:
            raise StateError("An action needs a description.")
        status = clean_text(action.get("status")) or "open"
        if status not in ACTION_STATUSES:
            raise StateError(f"action status must be one of {ACTION_STATUSES}, got {status!r}")
        meeting_id = clean_text(action.get("meeting_id")) or None
        with self._write(who) as con:
            if meeting_id and self._row(con, "meetings", "meeting_id", meeting_id) is None:
                raise StateError(f"No meeting {meeting_id!r} for this action.")
            action_id = clean_text(action.get("action_id")) or self._next_id(
                con, "actions", "action_id", "A-"
            )
            record = {
                "action_id": action_id,
                "action": text,
                "owner": clean_text(action.get("owner")),
                "due": date_text(action.get("due"), "due"),
                "status": status,
                "meeting_id": meeting_id,
                "measure_id": clean_text(action.get("measure_id")) or None,
            }
            return self._upsert(con, str(who), "actions", "action_id", record)

    def delete_action(self, action_id: str, who: str | None) -> None:
        self._delete_one("actions", "action_id", action_id, who)

    # risks

    def risks(self) -> pd.DataFrame:
        """The risk register, highest score (likelihood x impact) first."""
        frame = self._frame("select * from risks order by risk_id", (), RISK_COLUMNS)
        frame["score"] = (frame["likelihood"] * frame["impact"]).astype("int64")
        frame = frame.astype({"likelihood": "int64", "impact": "int64"})
        frame = frame.sort_values(["score", "risk_id"], ascending=[False, True], kind="stable")
        order = ["risk_id", "title", "owner", "likelihood", "impact", "score"]
        return frame[[*order, "measure_ids", "status"]].reset_index(drop=True)

    def save_risk(self, risk: dict, who: str | None) -> str:
        """Add or update a risk; returns its id (``R-001`` style when new)."""
        title = clean_text(risk.get("title"))
        if not title:
            raise StateError("A risk needs a title.")
        scores = {}
        for name in ("likelihood", "impact"):
            try:
                scores[name] = int(risk.get(name))
            except (TypeError, ValueError):
                scores[name] = 0
            if not 1 <= scores[name] <= 5:
                raise StateError(f"{name} must be a whole number from 1 to 5.")
        status = clean_text(risk.get("status")) or "open"
        if status not in RISK_STATUSES:
            raise StateError(f"risk status must be one of {RISK_STATUSES}, got {status!r}")
        with self._write(who) as con:
            risk_id = clean_text(risk.get("risk_id")) or self._next_id(
                con, "risks", "risk_id", "R-"
            )
            record = {
                "risk_id": risk_id,
                "title": title,
                "owner": clean_text(risk.get("owner")),
                **scores,
                "measure_ids": measure_list(risk.get("measure_ids")),
                "status": status,
            }
            return self._upsert(con, str(who), "risks", "risk_id", record)

    def delete_risk(self, risk_id: str, who: str | None) -> None:
        self._delete_one("risks", "risk_id", risk_id, who)

    # decisions on challenge points

    def record_decision(
        self,
        point_id: str,
        decision: str,
        reason: str,
        who: str | None,
        edited_finding: str | None = None,
        edited_question: str | None = None,
    ) -> None:
        """Record a decision on a challenge point; a dismissal or an edit needs a reason."""
        if decision not in DECISIONS:
            raise StateError(f"decision must be one of {DECISIONS}, got {decision!r}")
        reason = clean_text(reason)
        if decision in ("edited", "dismissed") and not reason:
            raise StateError(f"A point {decision} needs a reason.")
        edits = clean_text(edited_finding) or clean_text(edited_question)
        if decision == "edited" and not edits:
            raise StateError("An edited point needs the edited finding or question.")
        if not clean_text(point_id):
            raise StateError("A decision needs the challenge point's id.")
        with self._write(who) as con:
            record = {
                "point_id": clean_text(point_id),
                "decision": decision,
                "reason": reason,
                "edited_finding": clean_text(edited_finding) or None,
                "edited_question": clean_text(edited_question) or None,
                "who": str(who),
                "at": now_text(),
            }
            cursor = con.execute(
                "insert into decisions (point_id, decision, reason, edited_finding, "
                "edited_question, who, at) values (?, ?, ?, ?, ?, ?, ?)",
                list(record.values()),
            )
            record = {"decision_id": cursor.lastrowid, **record}
            self._audit(con, str(who), "decisions", str(cursor.lastrowid), None, record)

    def decisions(self) -> pd.DataFrame:
        """The latest decision per challenge point (with who made it and when)."""
        return self._frame(
            """
            select decision_id, point_id, decision, reason, edited_finding, edited_question,
                   who, at
            from (
                select *, row_number() over (
                    partition by point_id order by at desc, decision_id desc
                ) as newest
                from decisions
            )
            where newest = 1
            order by point_id
            """,
            (),
            DECISION_COLUMNS,
        )

    def decision_history(self) -> pd.DataFrame:
        """Every decision ever recorded, oldest first."""
        return self._frame(
            "select * from decisions order by at, decision_id", (), DECISION_COLUMNS
        )

    # snapshots

    def freeze_snapshot(
        self,
        meeting_id: str | None,
        plan_id: str,
        as_at: date | None,
        warehouse_version: int | None,
        figures: pd.DataFrame,
        points: list[dict],
        who: str | None,
    ) -> str:
        """Freeze the figures and challenge points shown for a meeting; returns the id.

        The figures are stored as Parquet, so :meth:`snapshot` gives back the same frame
        (columns, types and values) whatever happens to the warehouse afterwards.
        """
        try:
            blob = frame_to_bytes(figures)
        except (ValueError, TypeError, ImportError) as exc:
            raise StateError(f"The figures could not be frozen: {exc}") from exc
        points_text = json.dumps([json_value(p) for p in points], default=str)
        frozen_at = now_text()
        with self._write(who) as con:
            if meeting_id and self._row(con, "meetings", "meeting_id", meeting_id) is None:
                raise StateError(f"No meeting {meeting_id!r} for this snapshot.")
            stamp = frozen_at[:19].replace("-", "").replace(":", "")
            base = f"S-{meeting_id or plan_id}-{stamp}"
            snapshot_id = base
            if self._row(con, "snapshots", "snapshot_id", base) is not None:
                snapshot_id = self._next_id(con, "snapshots", "snapshot_id", base + "-")
            record = {
                "snapshot_id": snapshot_id,
                "meeting_id": meeting_id or None,
                "plan_id": plan_id,
                "as_at": date_text(as_at, "as_at"),
                "warehouse_version": None if warehouse_version is None else int(warehouse_version),
                "frozen_at": frozen_at,
                "frozen_by": str(who),
            }
            con.execute(
                "insert into snapshots (snapshot_id, meeting_id, plan_id, as_at, "
                "warehouse_version, frozen_at, frozen_by, figures, points) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [*record.values(), blob, points_text],
            )
            summary = {**record, "figure_rows": len(figures), "points": len(points)}
            self._audit(con, str(who), "snapshots", snapshot_id, None, summary)
        return snapshot_id

    def snapshot(self, snapshot_id: str) -> dict:
        """One frozen snapshot: its metadata, figures (DataFrame) and points (list of dicts)."""
        with self._connect() as con:
            row = self._row(con, "snapshots", "snapshot_id", snapshot_id)
        if row is None:
            raise StateError(f"No snapshot {snapshot_id!r} in the state store.")
        row["as_at"] = to_date(row["as_at"], "as_at")
        row["figures"] = frame_from_bytes(row["figures"])
        row["points"] = json.loads(row["points"])
        return row

    def snapshots(self) -> pd.DataFrame:
        """Snapshots without their contents, newest first (with figure and point counts)."""
        frame = self._frame(
            "select snapshot_id, meeting_id, plan_id, as_at, warehouse_version, frozen_at, "
            "frozen_by, json_array_length(points) as points from snapshots "
            "order by frozen_at desc, snapshot_id desc",
            (),
            [*SNAPSHOT_COLUMNS[:7], "points"],
        )
        frame["as_at"] = [to_date(v, "as_at") for v in frame["as_at"]]
        return frame

    def latest_snapshot_for(self, meeting_id: str) -> str | None:
        """The id of the newest snapshot frozen for a meeting, or None."""
        with self._connect() as con:
            row = con.execute(
                "select snapshot_id from snapshots where meeting_id = ? "
                "order by frozen_at desc, snapshot_id desc limit 1",
                [meeting_id],
            ).fetchone()
        return None if row is None else row[0]

    # audit

    def audit(self) -> pd.DataFrame:
        """Every change: who, when, which record, and the record before and after (JSON)."""
        return self._frame(
            'select audit_id, at, who, "table", record_id, action, before, after '
            "from audit order by audit_id",
            (),
            AUDIT_COLUMNS,
        )

    # CSV export and import

    def export_csv(self, folder: Path) -> list[Path]:
        """Write one CSV per table to ``folder`` (snapshot figures as base64 Parquet)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        with self._connect() as con:
            for table in EXPORT_TABLES:
                frame = pd.DataFrame([dict(r) for r in con.execute(f"select * from {table}")])
                if frame.empty:
                    frame = pd.DataFrame(columns=self._columns(con, table))
                if table == "snapshots" and len(frame):
                    frame["figures"] = [
                        base64.b64encode(b).decode("ascii") for b in frame["figures"]
                    ]
                path = folder / f"{table}.csv"
                frame.to_csv(path, index=False)
                written.append(path)
        return written

    @staticmethod
    def _columns(con: sqlite3.Connection, table: str) -> list[str]:
        return [r[1] for r in con.execute(f'pragma table_info("{table}")')]

    def import_csv(self, folder: Path, who: str | None) -> int:
        """Load CSVs written by :meth:`export_csv`; rows whose id exists are updated.

        Meetings, agenda items, actions and risks go through the audited save functions;
        decisions, snapshots and audit rows not already present are added as they were.
        Returns the number of rows added or changed. All or nothing: on an error no row is kept.
        """
        require_editor(who)
        folder = Path(folder)
        frames = {}
        for table in EXPORT_TABLES:
            path = folder / f"{table}.csv"
            if path.exists():
                try:
                    frames[table] = pd.read_csv(path, dtype=str, keep_default_na=False)
                except (ValueError, OSError) as exc:
                    raise StateError(f"{path} could not be read as CSV: {exc}") from exc
        if not frames:
            raise StateError(f"No state CSV files ({', '.join(EXPORT_TABLES)}) in {folder}.")
        with self._write(who) as con:
            return sum(self._import_table(con, t, f, str(who)) for t, f in frames.items())

    def _import_table(
        self, con: sqlite3.Connection, table: str, frame: pd.DataFrame, who: str
    ) -> int:
        columns = self._columns(con, table)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise StateError(f"{table}.csv lacks the columns {', '.join(missing)}.")
        rows = [
            {c: (None if r[c] == "" else r[c]) for c in columns}
            for r in frame.to_dict(orient="records")
        ]
        key = columns[0]
        if table in ("meetings", "agenda_items", "actions", "risks"):
            return sum(self._import_record(con, table, key, row, who) for row in rows)
        changed = 0
        for row in rows:
            if table == "decisions":
                row["reason"] = row["reason"] or ""
            if table == "snapshots":
                if self._row(con, table, key, row[key]) is not None:
                    continue
                row["figures"] = base64.b64decode(row["figures"])
            elif self._has_same(con, table, row, columns[1:]):
                continue  # rows numbered by the store: matched on content, renumbered if new
            else:
                row.pop(key)
            names = [c for c in columns if c in row]
            cursor = con.execute(
                f"insert into {table} ({', '.join(chr(34) + c + chr(34) for c in names)}) "
                f"values ({', '.join('?' for _ in names)})",
                [row[c] for c in names],
            )
            changed += 1
            if table != "audit":
                record_id = str(row.get(key, cursor.lastrowid))
                after = {k: v for k, v in row.items() if k != "figures"}
                self._audit(con, who, table, record_id, None, {key: record_id, **after})
        return changed

    def _import_record(
        self, con: sqlite3.Connection, table: str, key: str, row: dict, who: str
    ) -> int:
        """Insert or update one imported plan record through the audited upsert."""
        if table == "risks":
            row["likelihood"], row["impact"] = int(row["likelihood"]), int(row["impact"])
        for text in ("theme", "measure_ids", "lead", "owner"):
            if text in row and row[text] is None:
                row[text] = ""
        if self._row(con, table, key, row[key]) == row:
            return 0
        self._upsert(con, who, table, key, row)
        return 1

    @staticmethod
    def _has_same(con: sqlite3.Connection, table: str, row: dict, columns: list[str]) -> bool:
        condition = " and ".join(f'"{c}" is ?' for c in columns)
        found = con.execute(
            f"select 1 from {table} where {condition} limit 1", [row[c] for c in columns]
        ).fetchone()
        return found is not None


# --- the example forward plan ------------------------------------------------------------------

SEED_KEYS = {
    "top": {"example", "plan_id", "meetings", "actions", "risks"},
    "meeting": {"body", "date", "papers_due", "theme", "status", "agenda"},
    "agenda": {"title", "priority_id", "measures", "lead"},
    "action": {"id", "action", "owner", "due", "status", "meeting", "measure_id"},
    "risk": {"id", "title", "owner", "likelihood", "impact", "measures", "status"},
}


def default_seed_path(root: Path | None = None) -> Path:
    from oversight.settings import PROJECT_ROOT

    return (root or PROJECT_ROOT) / "config" / "board_seed.yaml"


def read_seed(path: Path, root: Path | None = None) -> dict[str, Any]:
    """Read and check a forward-plan seed file (keys, bodies, plan priority and measure ids)."""
    import yaml

    from oversight import plan as plan_mod

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StateError(f"{path} could not be read: {exc}") from exc

    def check_keys(entry: Any, kind: str, where: str) -> None:
        if not isinstance(entry, dict):
            raise StateError(f"{path.name}: {where} must be a mapping")
        unknown = set(entry) - SEED_KEYS[kind]
        if unknown:
            raise StateError(f"{path.name}: {where} has unknown keys {sorted(unknown)}")

    check_keys(raw, "top", "the file")
    try:
        plan = plan_mod.load_plan(str(raw.get("plan_id")), root)
    except ValueError as exc:
        raise StateError(f"{path.name}: plan_id: {exc}") from exc
    priorities = {p.id for p in plan.priorities}
    known = {m.id for p in plan.priorities for m in p.measures}

    def check_measures(ids: Any, where: str) -> None:
        unknown = [m for m in split_measures(ids) if m not in known]
        if unknown:
            raise StateError(f"{path.name}: {where}: measures not in {plan.id}: {unknown}")

    for number, meeting in enumerate(raw.get("meetings") or [], start=1):
        check_keys(meeting, "meeting", f"meetings[{number}]")
        for item_number, item in enumerate(meeting.get("agenda") or [], start=1):
            where = f"meetings[{number}].agenda[{item_number}]"
            check_keys(item, "agenda", where)
            if item.get("priority_id") and item["priority_id"] not in priorities:
                raise StateError(f"{path.name}: {where}: no priority {item['priority_id']!r}")
            check_measures(item.get("measures"), where)
    for kind, plural in (("action", "actions"), ("risk", "risks")):
        for number, entry in enumerate(raw.get(plural) or [], start=1):
            check_keys(entry, kind, f"{plural}[{number}]")
            if not entry.get("id"):
                raise StateError(f"{path.name}: {plural}[{number}] needs an id")
            check_measures(entry.get("measures") or entry.get("measure_id"), f"{plural}[{number}]")
    return raw


def load_seed(store: StateStore, path: Path, who: str | None) -> dict[str, int]:
    """Add the seed's meetings, agenda items, actions and risks that the store lacks.

    Records already in the store (by id) are left as they are, so edits are never overwritten.
    Returns how many of each were added.
    """
    raw = read_seed(path)
    have = {
        "meetings": set(store.meetings()["meeting_id"]),
        "agenda": set(store.agenda()["item_id"]),
        "actions": set(store.actions()["action_id"]),
        "risks": set(store.risks()["risk_id"]),
    }
    added = dict.fromkeys(have, 0)
    for meeting in raw.get("meetings") or []:
        body = clean_text(meeting.get("body"))
        day = to_date(meeting.get("date"), "date")
        meeting_id = f"{BODY_CODES.get(body, body)}-{day}"
        if meeting_id not in have["meetings"]:
            record = {k: v for k, v in meeting.items() if k != "agenda"}
            store.save_meeting({**record, "meeting_id": meeting_id}, who)
            added["meetings"] += 1
        for number, item in enumerate(meeting.get("agenda") or [], start=1):
            item_id = f"{meeting_id}/{number:03d}"
            if item_id in have["agenda"]:
                continue
            store.save_agenda_item(
                {
                    "item_id": item_id,
                    "meeting_id": meeting_id,
                    "title": item.get("title"),
                    "priority_id": item.get("priority_id"),
                    "measure_ids": item.get("measures"),
                    "lead": item.get("lead"),
                },
                who,
            )
            added["agenda"] += 1
    for action in raw.get("actions") or []:
        if action["id"] not in have["actions"]:
            fields = {k: v for k, v in action.items() if k not in ("id", "meeting")}
            record = {**fields, "action_id": action["id"], "meeting_id": action.get("meeting")}
            store.save_action(record, who)
            added["actions"] += 1
    for risk in raw.get("risks") or []:
        if risk["id"] not in have["risks"]:
            fields = {k: v for k, v in risk.items() if k not in ("id", "measures")}
            store.save_risk(
                {**fields, "risk_id": risk["id"], "measure_ids": risk.get("measures")}, who
            )
            added["risks"] += 1
    return added


# --- backup and restore ------------------------------------------------------------------------


def backup(store_path: Path, target: Path) -> Path:
    """A consistent copy of the store (SQLite online backup), safe while the app is running."""
    store_path, target = Path(store_path), Path(target)
    if not store_path.exists():
        raise StateError(f"No state store at {store_path} to back up.")
    StateStore(store_path)  # refuses a damaged or foreign file before copying it
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".backup-", suffix=".sqlite", dir=target.parent)
    os.close(handle)
    try:
        source = sqlite3.connect(store_path, timeout=BUSY_TIMEOUT_S)
        dest = sqlite3.connect(temp)
        try:
            source.backup(dest)
            dest.execute("pragma journal_mode = delete")  # one self-contained file
        finally:
            dest.close()
            source.close()
        os.replace(temp, target)
    except sqlite3.Error as exc:
        raise StateError(plain_message(exc, store_path)) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    logger.info("backed up %s to %s", store_path, target)
    return target


def validate_store_file(path: Path) -> int:
    """The schema version of a store file, read without changing it; StateError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise StateError(f"No file at {path}.")
    check_header(path)
    if path.stat().st_size == 0:
        raise StateError(f"{path} is empty, not an oversight state store.")
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = read_schema_version(con, path)
            header_version = user_version(con)
            check = con.execute("pragma quick_check").fetchone()[0]
            tables = {r[0] for r in con.execute("select name from sqlite_master")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise StateError(plain_message(exc, path)) from exc
    if version is None or not tables >= TABLES:
        raise StateError(f"{path} is not an oversight state store (its tables are missing).")
    if max(version, header_version) > SCHEMA_VERSION:
        raise StateError(
            f"{path} has schema {max(version, header_version)}, newer than this dashboard knows."
        )
    if check != "ok":
        raise StateError(f"{path} is damaged ({check}).")
    return version


def restore(backup_path: Path, store_path: Path) -> None:
    """Replace the store with a backup, after checking the backup is a store; atomic.

    A healthy live store is overwritten through SQLite's backup API in one step, so a running
    app sees either the old or the restored contents. A missing or damaged store is replaced
    by a checked copy with ``os.replace``.
    """
    backup_path, store_path = Path(backup_path), Path(store_path)
    validate_store_file(backup_path)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        live_ok = store_path.exists() and bool(validate_store_file(store_path))
    except StateError:
        live_ok = False
    try:
        if live_ok:
            copy_database(backup_path, store_path)
        else:
            replace_file(backup_path, store_path)
    except sqlite3.Error as exc:
        raise StateError(plain_message(exc, backup_path)) from exc
    StateStore(store_path)  # checks it and puts it back in WAL mode
    logger.info("restored %s from %s", store_path, backup_path)


def copy_database(source_path: Path, target_path: Path) -> None:
    """Overwrite a database with another through the backup API, in a single step."""
    source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(target_path, timeout=BUSY_TIMEOUT_S)
    try:
        source.backup(target, pages=-1)
    finally:
        target.close()
        source.close()


def replace_file(source_path: Path, target_path: Path) -> None:
    """Put a checked copy of a database in place of a missing or damaged one."""
    handle, temp = tempfile.mkstemp(prefix=".restore-", suffix=".sqlite", dir=target_path.parent)
    os.close(handle)
    try:
        copy_database(source_path, Path(temp))
        validate_store_file(Path(temp))
        # WAL files left by the damaged store would be replayed into the restored one.
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{target_path}{suffix}")
        os.replace(temp, target_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


# --- what changed since the last meeting -------------------------------------------------------

SINCE_COLUMNS = [
    "measure_id", "measure_label", "agenda_items", "previous_status", "current_status",
    "previous_value", "current_value", "previous_snapshot",
]  # fmt: skip


HEADLINE_COLUMNS = [
    "measure_id", "measure_label", "priority_id", "priority_title", "unit", "status", "value",
    "period_end",
]  # fmt: skip


def headline_status(values: pd.DataFrame) -> pd.DataFrame:
    """One row per measure (its headline window) from the measure values of one geography."""
    from oversight import measures

    if values.empty or "status" not in values or "measure_id" not in values:
        return pd.DataFrame(columns=HEADLINE_COLUMNS)
    if "window" in values and "geography_code" in values:
        values = measures.headline(values, measures.load_statistics().headline_window)
    out = values.drop_duplicates("measure_id").copy()
    for column in HEADLINE_COLUMNS:
        if column not in out:
            out[column] = out["measure_id"] if column == "measure_label" else None
    return out[HEADLINE_COLUMNS].reset_index(drop=True)


def status_label(status: Any) -> str:
    """A status as symbol and word (never colour alone), e.g. '▼ deteriorating'."""
    from oversight.charts import STATUS_SYMBOLS

    if status is None or (isinstance(status, float) and pd.isna(status)):
        status = "no data"
    return STATUS_SYMBOLS.get(str(status), str(status))


def linked_status(measure_ids: Any, headline: pd.DataFrame) -> str:
    """Each linked measure with its current status: 'Robbery: ● no significant change; ...'."""
    by_id = headline.set_index("measure_id") if len(headline) else None
    parts = []
    for measure_id in split_measures(measure_ids):
        if by_id is None or measure_id not in by_id.index:
            parts.append(f"{measure_id}: not in this plan")
            continue
        row = by_id.loc[measure_id]
        parts.append(f"{row['measure_label']}: {status_label(row['status'])}")
    return "; ".join(parts)


def linked_measures(frame: pd.DataFrame, column: str, headline: pd.DataFrame) -> pd.DataFrame:
    """One row per record and linked measure, with the measure's label, status and value."""
    rows = []
    by_id = headline.set_index("measure_id") if len(headline) else pd.DataFrame()
    for record in frame.to_dict(orient="records"):
        for measure_id in split_measures(record.get(column)):
            if measure_id in by_id.index:
                row = by_id.loc[measure_id]
                label, status, value, unit = row[["measure_label", "status", "value", "unit"]]
            else:
                label, status, value, unit = measure_id, "no data", None, None
            rows.append(
                {
                    **record,
                    "measure_id": measure_id,
                    "measure_label": label,
                    "status": status,
                    "value": value,
                    "unit": unit,
                }
            )
    extra = ["measure_id", "measure_label", "status", "value", "unit"]
    columns = [*[c for c in frame.columns if c not in extra], *extra]
    return pd.DataFrame(rows, columns=columns)


def papers_flag(
    papers_due: date | None,
    meeting_date: date,
    today: date,
    days: int = 14,
    status: str = "planned",
) -> str:
    """'papers due in 5 days' when a planned meeting's papers fall due within ``days``."""
    if papers_due is None or meeting_date < today or status != "planned":
        return ""
    gap = (papers_due - today).days
    if gap < 0:
        return f"papers were due {-gap} day{'s' if gap != -1 else ''} ago"
    if gap == 0:
        return "papers due today"
    if gap <= days:
        return f"papers due in {gap} day{'s' if gap != 1 else ''}"
    return ""


def overdue_label(due: date | None, status: str, today: date) -> str:
    """'overdue by 12 days' for an unfinished action past its due date (else the status)."""
    if due is not None and due < today and status not in ACTION_FINISHED:
        gap = (today - due).days
        return f"⚠ overdue by {gap} day{'s' if gap != 1 else ''}"
    return ""


def quarter_counts(actions: pd.DataFrame) -> pd.DataFrame:
    """Actions by financial quarter due and state (overdue counted apart from open)."""
    state = [
        "overdue" if o else s for o, s in zip(actions["overdue"], actions["status"], strict=True)
    ]
    table = (
        actions.assign(state=state, quarter=actions["quarter"].fillna("no due date"))
        .groupby(["quarter", "state"])
        .size()
        .unstack(fill_value=0)
    )
    order = ["overdue", "open", "in progress", "done", "closed"]
    table = table.reindex(columns=order, fill_value=0)
    table["total"] = table.sum(axis=1)
    return table.reset_index()


def current_points(
    con: Any, plan_id: str, as_at: date | None = None, today: date | None = None
) -> list[dict]:
    """The current challenge points as dicts (empty when oversight.challenge does not exist)."""
    import dataclasses
    import importlib

    try:
        challenge = importlib.import_module("oversight.challenge")
    except ModuleNotFoundError as exc:
        if exc.name != "oversight.challenge":
            raise
        return []
    raise_points = getattr(challenge, "raise_points", None)
    if raise_points is None:
        return []
    points = raise_points(con, plan_id, as_at=as_at, today=today)
    return [dataclasses.asdict(p) if dataclasses.is_dataclass(p) else dict(p) for p in points]


def previous_snapshot(store: StateStore, meeting_id: str) -> str | None:
    """The newest snapshot of the latest earlier meeting of the same body that has one."""
    meetings = store.meetings().set_index("meeting_id")
    if meeting_id not in meetings.index:
        raise StateError(f"No meeting {meeting_id!r} in the state store.")
    this = meetings.loc[meeting_id]
    earlier = meetings[(meetings["body"] == this["body"]) & (meetings["date"] < this["date"])]
    for earlier_id in earlier.sort_values("date", ascending=False).index:
        found = store.latest_snapshot_for(earlier_id)
        if found is not None:
            return found
    return None


def since_last_meeting(
    store: StateStore, measure_values: pd.DataFrame, meeting_id: str
) -> pd.DataFrame:
    """Measures on a meeting's agenda whose status changed since the previous meeting.

    The previous meeting is the latest earlier meeting of the same body with a frozen
    snapshot; its frozen figures are compared, headline window against headline window, with
    ``measure_values`` (the current figures, e.g. ``scorecard.values_for`` for London). A linked
    measure missing from either side shows as "no data" there. Empty when there is no earlier
    snapshot or no linked measure.
    """
    agenda = store.agenda(meeting_id)
    linked: dict[str, list[str]] = {}
    for title, ids in zip(agenda["title"], agenda["measure_ids"], strict=True):
        for measure_id in split_measures(ids):
            linked.setdefault(measure_id, []).append(title)
    snapshot_id = previous_snapshot(store, meeting_id) if linked else None
    if snapshot_id is None:
        return pd.DataFrame(columns=SINCE_COLUMNS)
    before = headline_status(store.snapshot(snapshot_id)["figures"]).set_index("measure_id")
    now = headline_status(measure_values).set_index("measure_id")
    rows = []
    for measure_id, titles in linked.items():
        old = before["status"].get(measure_id, "no data")
        new = now["status"].get(measure_id, "no data")
        if old == new:
            continue
        label = now["measure_label"].get(measure_id) or before["measure_label"].get(measure_id)
        rows.append(
            {
                "measure_id": measure_id,
                "measure_label": label or measure_id,
                "agenda_items": "; ".join(titles),
                "previous_status": old,
                "current_status": new,
                "previous_value": before["value"].get(measure_id),
                "current_value": now["value"].get(measure_id),
                "previous_snapshot": snapshot_id,
            }
        )
    return pd.DataFrame(rows, columns=SINCE_COLUMNS)


# --- the quarterly view ------------------------------------------------------------------------

STATE_COLOURS = {
    "overdue": "#B34700",  # the deteriorating colour: text says "overdue" too
    "open": "#E69F00",
    "in progress": "#56B4E9",
    "done": "#0072B2",
    "closed": "#595959",
}


def quarter_figure(counts: pd.DataFrame, title: str) -> Any:
    """Stacked bars of actions per financial quarter due, one segment per state."""
    import plotly.graph_objects as go

    from oversight.charts import base_layout

    fig = go.Figure()
    for state, colour in STATE_COLOURS.items():
        if state in counts and counts[state].sum():
            fig.add_bar(
                x=list(counts["quarter"]),
                y=[int(n) for n in counts[state]],
                name=state,
                marker_color=colour,
                hovertemplate=f"%{{x}}: %{{y}} {state}<extra></extra>",
            )
    base_layout(fig, title, height=420, barmode="stack")
    fig.update_layout(legend={"traceorder": "normal", "y": -0.3}, margin={"b": 100})
    fig.update_yaxes(title_text="actions due", dtick=1)
    fig.update_xaxes(type="category")
    return fig
