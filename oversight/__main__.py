"""Command line for the oversight core: ``python -m oversight [--warehouse FILE] COMMAND``.

Commands:
  scorecard   every measure of a plan: value, comparison, significance and status
  sql QUERY   run one read-only query on the warehouse in the sandbox (config/sandbox.yaml)
  state ...   seed, backup, restore, export, import the app-state store (OVERSIGHT_STATE)
  challenge   challenge points for the next Board meeting (Markdown or JSON)
  briefing    the Deputy Mayor's briefing pack (DOCX or PDF)

Global options (--warehouse FILE, --today YYYY-MM-DD, -v) go before or after the command.
Only scorecard is public; the others are internal (challenge points, the Board's records, SQL)
and are refused when OVERSIGHT_MODE is public, as the public dashboard has none of them.

Exit codes: 0 done; 2 refused (the query was not run, or was stopped at a limit, or an
internal command in public mode); 1 any other error (no warehouse, bad settings).

Each command is a pair of functions: ``add_<name>_command(subparsers)`` declares its
arguments and sets ``func``; ``command_<name>(args, settings)`` does the work and returns
the exit code. Register a new command in COMMANDS; it is internal (refused in public mode)
unless its parser sets ``internal=False``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import pandas as pd

from oversight.cli_options import (
    CommonOptions,
    apply_global_options,
    global_options,
    setup_logging,
)
from oversight.settings import Settings, get_settings

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_REFUSED = 2
FORMATS = ("table", "csv", "json")


def refuse_in_public(args: argparse.Namespace, settings: Settings) -> str | None:
    """The refusal for an internal command in public mode (DESIGN.md's modes); else None."""
    # A command is internal unless it declares itself public (internal=False).
    if settings.mode != "public" or not getattr(args, "internal", True):
        return None
    return (
        f"Refused: `python -m oversight {args.command}` is internal and this installation is "
        "public (OVERSIGHT_MODE=public); run it where OVERSIGHT_MODE=internal."
    )


# --- sql --------------------------------------------------------------------------------------


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: missing values as null, dates and times as ISO text."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [
        {str(k): v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
        for row in rows
    ]


def format_frame(frame: pd.DataFrame, fmt: str) -> str:
    """The result as a plain-text table, CSV or a JSON array of objects."""
    if fmt == "csv":
        from oversight.exports import csv_text

        return csv_text(frame)
    if fmt == "json":
        return json.dumps(json_records(frame), indent=2, default=str) + "\n"
    if frame.empty:
        return "(no rows)\n" if len(frame.columns) else "(no columns)\n"
    return frame.to_string(index=False) + "\n"


def command_sql(args: argparse.Namespace, settings: Settings) -> int:
    from oversight.sandbox import SandboxRefused, load_limits, run_query

    limits = load_limits(settings.config_dir / "sandbox.yaml")
    try:
        result = run_query(settings.warehouse, args.query, limits, keep_warm=False)
    except SandboxRefused as exc:
        print(f"Refused: {exc.message}", file=sys.stderr)
        return EXIT_ERROR if exc.reason == "no_warehouse" else EXIT_REFUSED
    sys.stdout.write(format_frame(result.frame, args.format))
    rows = len(result.frame)
    note = f"{rows:,} row{'s' if rows != 1 else ''}"
    if result.truncated:
        note = f"First {rows:,} rows only: the result has more (row cap {limits.row_cap:,})"
    print(f"{note}; {result.seconds:.2f} s.", file=sys.stderr)
    return EXIT_OK


def add_sql_command(sub: CommonOptions) -> None:
    sql = sub.add_parser(
        "sql",
        help="run one read-only query on the warehouse",
        description="Run one read-only query (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, "
        "SUMMARIZE or FROM) on the warehouse, within the limits in config/sandbox.yaml.",
    )
    sql.add_argument("query", help='the query, quoted, e.g. "from marts.loads"')
    sql.add_argument("--format", choices=FORMATS, default="table", help="output format")
    sql.set_defaults(func=command_sql, internal=True)


# --- state ------------------------------------------------------------------------------------


def command_state(args: argparse.Namespace, settings: Settings) -> int:
    """Seed, back up, restore, export or import the app-state store (oversight.governance)."""
    import getpass
    from pathlib import Path

    from oversight import governance

    path = Path(args.state).expanduser() if args.state else settings.state
    who = f"{getpass.getuser()} (command line)"
    try:
        if args.state_command == "seed":
            seed = Path(args.file) if args.file else governance.default_seed_path(settings.root)
            added = governance.load_seed(governance.StateStore(path), seed, who)
            print(f"Seeded {path} from {seed}: " + ", ".join(f"{n} {k}" for k, n in added.items()))
        elif args.state_command == "backup":
            print(f"Backed up {path} to {governance.backup(path, Path(args.out))}")
        elif args.state_command == "restore":
            governance.restore(Path(args.file), path)
            print(f"Restored {path} from {args.file}")
        elif args.state_command == "export":
            if not path.exists():
                raise governance.StateError(f"No state store at {path} to export.")
            written = governance.StateStore(path).export_csv(Path(args.out))
            print(f"Exported {len(written)} tables to {args.out}")
        else:
            changed = governance.StateStore(path).import_csv(Path(args.folder), who)
            print(f"Imported {changed} new or changed rows into {path}")
    except governance.StateError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def add_state_command(sub: CommonOptions) -> None:
    state = sub.add_parser(
        "state",
        help="seed, back up, restore, export or import the app-state store",
        description="The app-state store (forward plan, actions, risks, snapshots) is not "
        "rebuildable from the data: back it up.",
    )
    actions = CommonOptions(
        state.add_subparsers(dest="state_command", required=True, metavar="ACTION")
    )
    parsers = {
        "seed": actions.add_parser("seed", help="add the example forward plan's records"),
        "backup": actions.add_parser("backup", help="write a consistent copy of the store"),
        "restore": actions.add_parser("restore", help="replace the store with a backup"),
        "export": actions.add_parser("export", help="write one CSV per table"),
        "import": actions.add_parser("import", help="load CSVs written by export"),
    }
    parsers["seed"].add_argument("--file", metavar="YAML", help="default config/board_seed.yaml")
    parsers["backup"].add_argument("--out", metavar="FILE", required=True)
    parsers["restore"].add_argument("file", metavar="FILE", help="a backup of the store")
    parsers["export"].add_argument("--out", metavar="DIR", required=True)
    parsers["import"].add_argument("folder", metavar="DIR", help="a folder written by export")
    for parser in parsers.values():
        parser.add_argument(
            "--state", metavar="FILE", help="the state store (default: OVERSIGHT_STATE)"
        )
        parser.set_defaults(func=command_state, internal=True)


# --- challenge and briefing -------------------------------------------------------------------


def command_challenge(args: argparse.Namespace, settings: Settings) -> int:
    from oversight import challenge

    sys.stdout.write(challenge.run_cli(args, settings))
    return EXIT_OK


def command_briefing(args: argparse.Namespace, settings: Settings) -> int:
    from oversight import briefing

    print(briefing.run_cli(args, settings), file=sys.stderr)
    return EXIT_OK


def add_challenge_command(sub: CommonOptions) -> None:
    from oversight import challenge

    parser = sub.add_parser(
        "challenge",
        help="challenge points for the next Board meeting",
        description="Challenge points raised from the plan's measures and the data supply "
        "(config/challenge_rules.yaml), ranked, the meeting's share first.",
    )
    challenge.add_arguments(parser)
    parser.set_defaults(func=command_challenge, internal=True)


def add_briefing_command(sub: CommonOptions) -> None:
    from oversight import briefing

    parser = sub.add_parser(
        "briefing",
        help="write the Deputy Mayor's briefing pack",
        description="The briefing pack (cover, one page per priority, challenge points, "
        "overdue actions, methods) as DOCX or PDF.",
    )
    briefing.add_arguments(parser)
    parser.set_defaults(func=command_briefing, internal=True)


# --- scorecard --------------------------------------------------------------------------------


def command_scorecard(args: argparse.Namespace, settings: Settings) -> int:
    from oversight import scorecard
    from oversight.warehouse import WarehouseMissing

    try:
        sys.stdout.write(scorecard.run_cli(args, settings.warehouse, settings.root))
    except scorecard.UsageError as exc:
        print(f"Refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except WarehouseMissing as exc:
        print(f"Error: {exc}. Load files with `python -m pipelines load`.", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def add_scorecard_command(sub: CommonOptions) -> None:
    from oversight import scorecard

    parser = sub.add_parser(
        "scorecard",
        help="every plan measure: value, comparison, CI, significance, status",
        description="Every measure of a Police and Crime Plan for London (MPS area) or a "
        "borough: latest value, comparison, CI or limits, significance, status and the "
        "sentence a page shows. --as-at cuts periods; it does not travel back in vintages.",
    )
    scorecard.add_arguments(parser)
    parser.set_defaults(func=command_scorecard, internal=False)


# --- commands ---------------------------------------------------------------------------------

# One entry per command, in the order --help lists them.
COMMANDS: tuple[Callable[[CommonOptions], None], ...] = (
    add_scorecard_command,
    add_sql_command,
    add_state_command,
    add_challenge_command,
    add_briefing_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m oversight",
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 done; 2 refused (also an internal command in public mode); "
        "1 any other error.",
        parents=[global_options(subcommand=False)],
    )
    sub = CommonOptions(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for add_command in COMMANDS:
        add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = apply_global_options(args, get_settings())
        refusal = refuse_in_public(args, settings)
        if refusal:
            print(refusal, file=sys.stderr)
            return EXIT_REFUSED
        return args.func(args, settings)
    except ValueError as exc:  # bad settings or configuration: a sentence, not a traceback
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
