"""Command line for the pipelines: ``python -m pipelines load|fetch|rebuild|status``.

Global options (--warehouse FILE, --today YYYY-MM-DD, -v) go before or after the command.

Exit codes: 0 done; 2 a file was refused (nothing published); 1 any other failure (a
download that failed, a damaged warehouse, a full disk: nothing published either).
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from pathlib import Path

import duckdb

from oversight.cli_options import (
    CommonOptions,
    apply_global_options,
    global_options,
    setup_logging,
)
from oversight.settings import Settings, get_settings
from oversight.warehouse import WarehouseCorrupt, corruption
from pipelines.errors import PipelineError

logger = logging.getLogger("pipelines")
EXIT_REFUSED = 2


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with columns padded to fit."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def shorten(name: str, width: int = 70) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def command_load(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from pipelines.build import load_paths

    given = (("force", args.force), ("year", args.year), ("period", args.period))
    options = {key: value for key, value in given if value}
    bar = tqdm(desc="loading", unit="file", disable=None, file=sys.stderr)

    def progress(name: str) -> None:
        bar.set_postfix_str(shorten(name, 40))
        bar.update(1)

    try:
        result = load_paths(args.paths, settings, options, progress=progress)
    finally:
        bar.close()
    return report_load(result, settings)


def report_load(result, settings: Settings) -> int:
    """Print a load's outcome per file and what was published; return the exit code."""
    rows = [[shorten(o.file), o.source, f"{o.rows:,}", o.status] for o in result.outcomes]
    print(format_table(["file", "source", "rows", "status"], rows))
    if result.skipped:
        names = ", ".join(Path(o.file.split("!")[-1]).name for o in result.skipped)
        print(f"\nSkipped {len(result.skipped)} documentation file(s), not data: {names}")
    for outcome in result.refused:
        print(f"\n{outcome.message}", file=sys.stderr)
    if result.refused:
        print(
            f"\nNothing was published; the warehouse is unchanged. Reports are in "
            f"{settings.quarantine_dir}",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    if result.published:
        print(f"\nPublished {settings.warehouse} (version {result.version}).")
    else:
        print("\nNothing new to load; the warehouse is unchanged.")
    return 0


def command_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.build import load_paths
    from pipelines.fetch import fetch_all, plan_lines, read_sources

    config = read_sources(Path(args.sources or settings.config_dir / "sources.yaml"))
    raw_dir = Path(args.raw_dir or settings.raw_dir).resolve()
    # The mirror to fetch from instead of the publishers (tests point it at a local server).
    base = args.base_url or settings.fetch_base
    if args.dry_run:
        print("\n".join(plan_lines(config, raw_dir, args.only, base)))
        print("\nDry run: nothing was downloaded or loaded.")
        return 0
    result = fetch_all(config, raw_dir, only=args.only, base=base)
    for outcome in result.failed:
        print(f"\nRefused {outcome.url}: {outcome.message}", file=sys.stderr)
    if result.failed:
        print(
            "\nNothing was loaded; the warehouse is unchanged. Files fetched completely are "
            f"kept in {raw_dir} and are loaded by the next fetch.",
            file=sys.stderr,
        )
        return 1
    if args.no_load:
        print(f"\nFetched into {raw_dir}; not loaded (--no-load).")
        return 0
    print()
    return report_load(load_paths(result.paths, settings), settings)


def command_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.build import on_disk, rebuild_batches, rebuild_warehouse, recorded_files

    raw_dir = Path(args.raw_dir or settings.raw_dir).resolve()
    live = settings.warehouse
    recorded: list[tuple[str, dict]] = []
    if live.exists():
        try:
            recorded = recorded_files(live)
        except duckdb.Error as exc:
            print(
                f"The warehouse {live} cannot be read ({str(exc).splitlines()[0]}); rebuilding "
                f"from {raw_dir} only.",
                file=sys.stderr,
            )
    found = [(on_disk(path, settings.root), path, options) for path, options in recorded]
    missing = [path for where, path, _ in found if where is None]
    if missing and not args.allow_missing:
        listed = "\n".join(f"  {path}" for path in missing[:20])
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise PipelineError(
            f"{len(missing)} file(s) the warehouse was loaded from are no longer where they "
            f"were loaded from:\n{listed}{more}\nPut them back, or rebuild without them with "
            "--allow-missing (their data will be gone from the rebuilt warehouse)."
        )
    files = [(where, options) for where, _, options in found if where is not None]
    raw_files = raw_dir.is_dir() and any(
        p.is_file() and not p.name.startswith(".") for p in raw_dir.rglob("*")
    )
    if raw_files:
        given = (("force", args.force), ("year", args.year), ("period", args.period))
        files.append((raw_dir, {key: value for key, value in given if value}))
    if not files:
        raise PipelineError(
            f"Nothing to rebuild from: no files under {raw_dir}"
            + (" and none of the files the warehouse records" if recorded else "")
            + ". Fetch (python -m pipelines fetch) or load files first; the warehouse is "
            "unchanged."
        )
    batches = rebuild_batches(files)
    print(f"Rebuilding {live} from {sum(len(b.paths) for b in batches)} path(s).")
    results = rebuild_warehouse(settings, batches)
    rows = [
        [shorten(o.file), o.source, f"{o.rows:,}", o.status]
        for result in results
        for o in result.outcomes
    ]
    print(format_table(["file", "source", "rows", "status"], rows))
    refused = [o for result in results for o in result.refused]
    for outcome in refused:
        print(f"\n{outcome.message}", file=sys.stderr)
    if refused:
        print("\nNothing was published; the warehouse is unchanged.", file=sys.stderr)
        return EXIT_REFUSED
    print(f"\nRebuilt and published {live}.")
    return 0


def command_sample(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.build import load_paths
    from pipelines.sample import sample_lock, write_sample

    out = Path(args.out) if args.out else settings.sample_dir
    # Two first runs at once (two app servers, parallel tests) share data/sample: one writes
    # and loads while the other waits, so no load reads a file the other is rewriting.
    with sample_lock(out):
        paths = write_sample(out, settings.config_dir / "sample.yaml")
        print(f"Wrote {len(paths)} synthetic files to {out}.")
        if args.no_load:
            return 0
        result = load_paths([out], settings, {"synthetic": True})
    rows = [[shorten(o.file), o.source, f"{o.rows:,}", o.status] for o in result.outcomes]
    print(format_table(["file", "source", "rows", "status"], rows))
    for outcome in result.refused:
        print(f"\n{outcome.message}", file=sys.stderr)
    return EXIT_REFUSED if result.refused else 0


def command_status(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.status import describe_warehouse

    print(describe_warehouse(settings.warehouse))
    return 0


def command_dictionary(args: argparse.Namespace, settings: Settings) -> int:
    from oversight.dictionary import load_dictionary, to_csv, to_markdown

    dictionary = load_dictionary(settings.config_dir / "dictionary.yaml")
    print(to_csv(dictionary) if args.format == "csv" else to_markdown(dictionary), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[global_options(subcommand=False)],
    )
    sub = CommonOptions(parser.add_subparsers(dest="command", required=True))
    load = sub.add_parser("load", help="load published files, folders, zips or .gz files")
    load.add_argument("paths", nargs="+", type=Path)
    load.add_argument("--force", help="police force for renamed police.uk files")
    load.add_argument("--year", type=int, help="year of an ONS small-area file not named mid-YYYY")
    load.add_argument("--period", help="period of a PAS neighbourhood file, e.g. 2016 or 2015-16")
    load.set_defaults(func=command_load)
    sample = sub.add_parser("sample", help="write the synthetic sample and load it")
    sample.add_argument("--out", help="folder to write to (default data/sample)")
    sample.add_argument("--no-load", action="store_true", help="write the files only")
    sample.set_defaults(func=command_sample)
    fetch = sub.add_parser(
        "fetch", help="download the latest published files (config/sources.yaml) and load them"
    )
    fetch.add_argument(
        "--only", action="append", metavar="SOURCE", help="fetch this source only (repeatable)"
    )
    fetch.add_argument("--dry-run", action="store_true", help="list what would be fetched")
    fetch.add_argument("--no-load", action="store_true", help="download only; do not load")
    fetch.add_argument(
        "--base-url", help="fetch from this server instead (default env OVERSIGHT_FETCH_BASE)"
    )
    fetch.add_argument("--raw-dir", help="where downloads go (default data/raw)")
    fetch.add_argument("--sources", help="the list of files (default config/sources.yaml)")
    fetch.set_defaults(func=command_fetch)
    rebuild = sub.add_parser(
        "rebuild",
        help="recreate the warehouse from the files it was loaded from and data/raw",
    )
    rebuild.add_argument("--raw-dir", help="the downloads folder (default data/raw)")
    rebuild.add_argument(
        "--allow-missing", action="store_true", help="leave out recorded files that are gone"
    )
    rebuild.add_argument("--force", help="police force, for renamed files in data/raw")
    rebuild.add_argument("--year", type=int, help="year, for ONS small-area files in data/raw")
    rebuild.add_argument("--period", help="period, for PAS neighbourhood files in data/raw")
    rebuild.set_defaults(func=command_rebuild)
    status = sub.add_parser("status", help="what the warehouse holds")
    status.set_defaults(func=command_status)
    dictionary = sub.add_parser("dictionary", help="print the data dictionary of the marts")
    dictionary.add_argument("--format", choices=("md", "csv"), default="md")
    dictionary.set_defaults(func=command_dictionary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = apply_global_options(args, get_settings())
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    try:
        return args.func(args, settings)
    except (PipelineError, ValueError, WarehouseCorrupt) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except duckdb.Error as exc:
        damaged = corruption(exc, settings.warehouse)
        if damaged is None:
            raise
        print(f"Error: {damaged} The file itself has not been changed.", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Error: {write_failure(exc)}", file=sys.stderr)
        return 1


def write_failure(exc: OSError) -> str:
    """A sentence for a failed read or write, saying what the live warehouse is left as."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        what = (
            "the disk is full. A load needs free space for a whole copy of the warehouse "
            "beside it; free some and try again"
        )
    elif isinstance(exc, PermissionError):
        what = "permission was denied writing to the warehouse folder or a file in it"
    elif exc.errno == errno.EROFS:
        what = "the warehouse folder is on a read-only file system"
    else:
        what = exc.strerror or str(exc)
    return (
        f"{what}{where}. Nothing was published: the live warehouse is replaced only by a "
        "complete new copy, so it is as it was."
    )


if __name__ == "__main__":
    sys.exit(main())
