"""Helpers shared by the CLI commands: settings, argument types, table output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.app import App, build_app
from shared.config import Settings


class UsageError(Exception):
    """Bad command-line input: printed as ``pcf: error: …`` with exit code 2."""


def iso_date(text: str) -> date:
    """argparse type: an ISO date YYYY-MM-DD (clear error otherwise)."""
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2023-02-23"
        ) from None


def date_list(text: str) -> list[date]:
    """argparse type: comma-separated ISO dates."""
    return [iso_date(part.strip()) for part in text.split(",") if part.strip()]


def stale_spec(text: str) -> tuple[date, int]:
    """argparse type: ``DATE=N``."""
    day, sep, count = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: use DATE=N, e.g. 2023-02-23=1")
    try:
        n = int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: N must be a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: N must be 0 or more")
    return iso_date(day), n


def add_warehouse_arg(parser: argparse.ArgumentParser) -> None:
    """The ``--warehouse URL`` option every data command takes."""
    parser.add_argument(
        "--warehouse",
        metavar="URL",
        help="duckdb:///path.duckdb or bigquery://PROJECT (default: PCF_WAREHOUSE)",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with ``--warehouse``/``--workers`` applied."""
    try:
        settings = Settings()
    except ValueError as exc:
        raise UsageError(f"invalid PCF_* setting: {exc}") from exc
    update: dict[str, Any] = {}
    if getattr(args, "warehouse", None):
        update["warehouse"] = args.warehouse
    if getattr(args, "workers", None):
        update["local_workers"] = args.workers
    return settings.model_copy(update=update) if update else settings


def open_app(args: argparse.Namespace, **kwargs: Any) -> App:
    """Build the App for a command (warehouse and bus from settings/flags)."""
    settings = settings_from(args)
    try:
        return build_app(settings, **kwargs)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def plain(value: Any) -> Any:
    """A value as JSON/table output shows it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def print_json(rows: Any) -> None:
    """Print rows (or any structure) as JSON on stdout."""
    json.dump(rows, sys.stdout, default=plain, indent=2)
    sys.stdout.write("\n")


def print_table(rows: Sequence[Mapping[str, Any]], columns: Iterable[str] | None = None) -> None:
    """Print rows as an aligned text table on stdout."""
    cols = list(columns) if columns is not None else (list(rows[0].keys()) if rows else [])
    if not rows:
        print("(no rows)")
        return
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    return str(value)
