"""Command line for the pipelines: ``python -m pipelines load|status``.

Exit codes: 0 done; 2 a file was refused (nothing published); 1 any other failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from oversight.settings import Settings, get_settings, parse_date
from pipelines.errors import PipelineError

logger = logging.getLogger("pipelines")
EXIT_REFUSED = 2


def setup_logging(verbose: bool) -> None:
    """Log steps to stderr, once, for this entry point."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


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
    rows = [[shorten(o.file), o.source, f"{o.rows:,}", o.status] for o in result.outcomes]
    print(format_table(["file", "source", "rows", "status"], rows))
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


def command_sample(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.build import load_paths
    from pipelines.sample import write_sample

    out = Path(args.out) if args.out else settings.sample_dir
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
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    parser.add_argument("--warehouse", help="the DuckDB warehouse file (default from settings)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="load published files, folders, zips or .gz files")
    load.add_argument("paths", nargs="+", type=Path)
    load.add_argument("--today", help="treat this date (YYYY-MM-DD) as today for month checks")
    load.add_argument("--force", help="police force for renamed police.uk files")
    load.add_argument("--year", type=int, help="year of an ONS small-area file not named mid-YYYY")
    load.add_argument("--period", help="period of a PAS neighbourhood file, e.g. 2016 or 2015-16")
    load.set_defaults(func=command_load)
    sample = sub.add_parser("sample", help="write the synthetic sample and load it")
    sample.add_argument("--out", help="folder to write to (default data/sample)")
    sample.add_argument("--no-load", action="store_true", help="write the files only")
    sample.set_defaults(func=command_sample)
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
        settings = get_settings().with_warehouse(args.warehouse)
        today = getattr(args, "today", None)
        settings = settings.with_today(parse_date(today, "--today") if today else None)
        return args.func(args, settings)
    except (PipelineError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
