"""Argument parsing and dispatch of the ``pcf`` subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from shared import log
from shared.config import Settings
from shared.errors import PermanentError
from shared.tools.cli import core
from shared.tools.cli.common import UsageError

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The full ``pcf`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="pcf",
        description=(
            "Player Composite Factors pipeline: safe per-date backfills. Runs on the embedded "
            "default (DuckDB + in-process bus) unless PCF_WAREHOUSE / PCF_BUS say otherwise."
        ),
    )
    parser.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log threshold"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _registrars():
        register(sub)
    return parser


Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrars() -> list[Registrar]:
    regs: list[Registrar] = [core.register]
    for name in ("backfill", "cleanup", "stack"):
        try:
            module = __import__(f"shared.tools.cli.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"shared.tools.cli.{name}":
                raise
            continue
        regs.append(module.register)
    return regs


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pcf``; return the exit code (0 ok, 1 blocked/failed/refused, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        level = args.log_level or Settings().log_level
    except ValueError:
        level = "INFO"
    log.configure(level)
    command: Command = args.func
    try:
        return command(args)
    except UsageError as exc:
        print(f"pcf: error: {exc}", file=sys.stderr)
        return 2
    except PermanentError as exc:
        print(f"pcf: error: {exc}", file=sys.stderr)
        return 2 if getattr(exc, "usage", False) else 1
    except KeyboardInterrupt:
        print("pcf: interrupted", file=sys.stderr)
        return 130
