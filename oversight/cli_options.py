"""The global options both command lines share, so ``python -m pipelines`` and ``python -m
oversight`` have one grammar.

``--warehouse FILE``, ``--today YYYY-MM-DD`` and ``-v/--verbose`` are accepted before the
command name and after it (``python -m pipelines load DIR --warehouse FILE`` and
``python -m pipelines --warehouse FILE load DIR`` are the same). Each CLI adds
:func:`global_options` as a parent of its top-level parser and of every command's parser;
after the command name an option overrides the one given before only when it is given.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from oversight.settings import Settings, parse_date


def global_options(*, subcommand: bool) -> argparse.ArgumentParser:
    """A parent parser with the global options (defaults only on the top-level parser)."""
    parser = argparse.ArgumentParser(add_help=False)
    suppress = argparse.SUPPRESS
    parser.add_argument(
        "--warehouse",
        metavar="FILE",
        default=suppress if subcommand else None,
        help="the DuckDB warehouse file (default: OVERSIGHT_WAREHOUSE or data/warehouse/)",
    )
    parser.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        default=suppress if subcommand else None,
        help="treat this date as today (default: OVERSIGHT_TODAY or the real date)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=suppress if subcommand else False,
        help="log each step to stderr",
    )
    return parser


class CommonOptions:
    """Subparsers whose every command (and sub-command) also takes the global options."""

    def __init__(self, subparsers: argparse._SubParsersAction) -> None:
        self.subparsers = subparsers

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """A command's parser, with the global options as a parent."""
        return self.subparsers.add_parser(
            name, parents=[global_options(subcommand=True)], **kwargs
        )


def apply_global_options(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings with ``--warehouse`` and ``--today`` applied; ValueError on a bad date."""
    settings = settings.with_warehouse(args.warehouse)
    return settings.with_today(parse_date(args.today, "--today") if args.today else None)


def setup_logging(verbose: bool) -> None:
    """Log steps to stderr, once, for a command-line entry point."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
