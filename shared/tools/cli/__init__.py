"""The ``pcf`` command: init, seed, process, backfill, status, report, cleanup, schedule, sql.

``pip install .`` (no extras) installs only the runtime's requirements, so a command that needs a
local tool (DuckDB, sqlglot, pandas, the report's plotly, the Cloud Scheduler client, …)
says which extra to install and exits 2 instead of dying with a traceback; a ``bigquery://``
command without Google credentials says how to get them, also in one line with exit 2.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

# Top-level packages (and google.cloud sub-packages) only the `local` extra installs.
LOCAL_ONLY = (
    "duckdb",
    "sqlglot",
    "pandas",
    "numpy",
    "pyarrow",
    "matplotlib",
    "rich",
    "plotly",
    "croniter",
    "google.cloud.scheduler",
    "google.cloud.scheduler_v1",
)
INSTALL_HINT = "pip install 'pcf-pipeline[local]'"
_CANNOT_IMPORT = re.compile(r"cannot import name '([\w.]+)' from '([\w.]+)'")


def missing_module(exc: ImportError) -> str | None:
    """The dotted name of the module ``exc`` says is missing (None if it cannot tell)."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return exc.name
    # `from google.cloud import scheduler_v1` on a namespace package without it.
    found = _CANNOT_IMPORT.search(str(exc))
    if found:
        return f"{found.group(2)}.{found.group(1)}"
    return exc.name


def is_local_only(module: str | None) -> bool:
    """Whether ``module`` belongs to a package that only the ``local`` extra installs."""
    if not module:
        return False
    return any(module == pkg or module.startswith(f"{pkg}.") for pkg in LOCAL_ONLY)


def command_name(argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` (the first word that is not an option)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--log-level":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return "(command)"


def needs_local_hint(argv: Sequence[str]) -> str:
    """The one line printed when a command needs the local tools."""
    return f"pcf {command_name(argv)} needs the local tools: {INSTALL_HINT}"


try:
    from shared.tools.cli.main import main as _main
except ImportError as _exc:
    if not is_local_only(missing_module(_exc)):
        raise
    _import_error: ImportError | None = _exc  # a local-only package is missing: hint in main()
else:
    _import_error = None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pcf``; exit 2 with an install hint when a local-only package is missing."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if _import_error is not None:
            raise _import_error
        return _main(args)
    except ImportError as exc:
        if not is_local_only(missing_module(exc)):
            raise
        print(needs_local_hint(args), file=sys.stderr)
        return 2
    except Exception as exc:
        if not is_missing_credentials(exc):
            raise
        print(credentials_hint(args, exc), file=sys.stderr)
        return 2


def is_missing_credentials(exc: BaseException) -> bool:
    """Whether ``exc`` is google-auth saying it found no usable credentials."""
    try:
        from google.auth.exceptions import DefaultCredentialsError
    except ImportError:
        return False
    return isinstance(exc, DefaultCredentialsError)


def credentials_hint(argv: Sequence[str], exc: BaseException) -> str:
    """The one line printed when a bigquery:// or pubsub command finds no credentials."""
    first = str(exc).split(". ", 1)[0].rstrip(".")
    return (
        f"pcf {command_name(argv)}: no Google Cloud credentials ({first}): run "
        "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
    )


__all__ = ["main"]
