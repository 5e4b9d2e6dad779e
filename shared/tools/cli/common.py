"""Helpers shared by the CLI commands: settings, argument types, the output contract."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.app import App, build_app
from shared.config import Settings
from shared.tools import render_pool


class UsageError(Exception):
    """Bad command-line input: printed as ``pcf: error: …`` with exit code 2."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class CommandError(Exception):
    """A command could not do its job (exit code 1): one line and what to do about it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


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


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 1 or more")
    return value


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
        help="duckdb:///relative/path.duckdb, duckdb:////absolute/path.duckdb or "
        "bigquery://PROJECT (default: PCF_WAREHOUSE, else duckdb:///.pcf/warehouse.duckdb)",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with ``--warehouse``/``--workers`` applied."""
    try:
        settings = Settings()
    except ValueError as exc:
        raise UsageError(
            f"invalid PCF_* setting: {_first_line(exc)}", "fix or unset the PCF_* variable"
        ) from exc
    update: dict[str, Any] = {}
    if getattr(args, "warehouse", None):
        update["warehouse"] = args.warehouse
    if getattr(args, "workers", None):
        update["local_workers"] = args.workers
    return settings.model_copy(update=update) if update else settings


def duckdb_path(url: str) -> Path | None:
    """The file a ``duckdb:///`` URL names (None for other warehouses and ``:memory:``).

    ``duckdb:///x.duckdb`` is relative to the current folder, ``duckdb:////abs/x.duckdb`` is
    absolute (the fourth slash starts the path).
    """
    if not url.startswith("duckdb://"):
        return None
    path = url.removeprefix("duckdb://")
    if path in (":memory:", "/:memory:"):
        return None
    return Path(path.removeprefix("/")) if not path.startswith("//") else Path(path[1:])


def open_app(
    args: argparse.Namespace, *, read_only: bool = False, must_exist: bool = False, **kwargs: Any
) -> App:
    """Build the App for a command (warehouse and bus from settings/flags).

    ``read_only`` commands never create anything: a DuckDB file that does not exist, or one
    without the ledger, is a one-line error telling how to create it (``must_exist``: only the
    file must exist).
    """
    settings = settings_from(args)
    path = duckdb_path(settings.warehouse)
    if settings.warehouse.startswith("duckdb:"):
        import duckdb  # noqa: F401  (without the local extra: the install hint comes first)
    if (read_only or must_exist) and path is not None and not path.is_file():
        raise CommandError(
            f"no warehouse at {path} (from {settings.warehouse})",
            "create it with `pcf init` and load data with `pcf seed --real` (or point "
            "--warehouse / PCF_WAREHOUSE at an existing one)",
        )
    if path is not None and not path.parent.is_dir() and not (read_only or must_exist):
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        app = render_pool.install(build_app(settings, **kwargs))
    except ValueError as exc:
        raise UsageError(_first_line(exc)) from exc
    if read_only and not app.warehouse.table_exists("orchestration", "backfill_ledger"):
        app.close()
        raise CommandError(
            f"warehouse {settings.warehouse} is not initialized (no backfill ledger)",
            "run `pcf init` (and `pcf seed --real` or `--synthetic` for input data)",
        )
    return app


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# -- output --------------------------------------------------------------------------------------
class Output:
    """What a command produced for ``--json`` (the CLI wraps it in the one envelope)."""

    data: Any = None
    written: bool = False


OUTPUT = Output()


def reset_output() -> None:
    """Forget the previous command's JSON payload."""
    OUTPUT.data, OUTPUT.written = None, False


def plain(value: Any) -> Any:
    """A value as JSON output shows it (dates ISO, decimals as numbers)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(data: Any) -> None:
    """Hand a command's result to the envelope ``pcf --json`` prints on stdout."""
    OUTPUT.data, OUTPUT.written = data, True


def envelope(
    command: str, code: int, data: Any, error: tuple[str, str | None] | None
) -> dict[str, Any]:
    """The one ``--json`` shape of every command."""
    from shared.tools.cli.version import VERSION

    return {
        "pcf": VERSION,
        "command": command,
        "ok": code == 0,
        "exit_code": code,
        "data": data,
        "error": None if error is None else {"message": error[0], "hint": error[1]},
    }


def write_json(doc: Any) -> None:
    """Write one JSON document on stdout."""
    json.dump(doc, sys.stdout, default=plain, indent=2)
    sys.stdout.write("\n")
    sys.stdout.flush()


def is_tty(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (False for anything odd)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def console(stderr: bool = False) -> Any:
    """A rich Console on stdout/stderr: terminal width at a terminal, no wrapping elsewhere."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if is_tty(stream):
        return Console(file=stream, width=shutil.get_terminal_size((120, 40)).columns)
    return Console(file=stream, width=100_000, color_system=None, soft_wrap=True)


def human(value: Any) -> str:
    """A cell as people read it: yes/no, trimmed decimals, empty for missing."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer():
            return f"{value:.0f}"
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Iterable[str] | None = None) -> None:
    """Print rows as a table on stdout that fits the terminal (no wrapping when piped)."""
    cols = list(columns) if columns is not None else (list(rows[0].keys()) if rows else [])
    if not rows:
        print("(no rows)")
        return
    try:
        from rich import box
        from rich.table import Table
    except ImportError:  # without the local extra: plain aligned columns
        cells = [[human(r.get(c)) for c in cols] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        for line in [cols, ["-" * w for w in widths], *cells]:
            print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
        return
    out = console()
    tty = is_tty(sys.stdout)
    table = Table(
        box=box.Box("    \n    \n -  \n    \n    \n    \n    \n    \n"),
        show_edge=False,
        pad_edge=False,
        header_style="bold" if tty else "",
    )
    for c in cols:
        numeric = any(isinstance(plain(r.get(c)), (int, float)) for r in rows) and not any(
            isinstance(r.get(c), bool) for r in rows
        )
        table.add_column(
            c, justify="right" if numeric else "left", overflow="fold" if tty else "ignore"
        )
    for r in rows:
        table.add_row(*(human(r.get(c)) for c in cols))
    if tty:
        out.print(table)
        return
    buf = io.StringIO()
    from rich.console import Console

    Console(file=buf, width=100_000, color_system=None).print(table)
    sys.stdout.write("\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n")


def warn_unknown_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning line per ``PCF_*`` variable that names no setting (with a suggestion)."""
    import difflib

    env = os.environ if environ is None else environ
    known = {f"PCF_{name.upper()}" for name in Settings.model_fields}
    # Variables of infra/deploy.sh and of the test fault injection, not settings.
    known |= {"PCF_PROJECT_NUMBER", "PCF_TEST_FAULT_DIR"}
    lines = []
    for name in sorted(k for k in env if k.upper().startswith("PCF_") and k.upper() not in known):
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        lines.append(f"pcf: warning: {name} is not a pcf setting and is ignored{hint}")
    return lines
