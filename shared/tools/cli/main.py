"""Argument parsing, dispatch and the one output/error contract of the ``pcf`` subcommands.

Exit codes: 0 ok; 1 the command ran but something is wrong (blocked/failed dates, refused
cleanup, runtime error: one line on stderr, details with ``--log-level DEBUG``); 2 bad usage
(one line and a hint); 130 interrupted (Ctrl-C); 141 stdout closed early (``| head``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

from shared import log
from shared.config import Settings
from shared.errors import PermanentError
from shared.tools.cli import core
from shared.tools.cli.common import (
    OUTPUT,
    CommandError,
    UsageError,
    envelope,
    reset_output,
    warn_unknown_env,
    write_json,
)
from shared.tools.cli.version import VERSION

Command = Callable[[argparse.Namespace], int]
GLOBAL_HINT = "see `pcf --help`"
_warned_env = False
_json_requested = False


class PcfParser(argparse.ArgumentParser):
    """argparse with the pcf usage-error contract: one line, a hint, exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``pcf …: error: message`` and where to look; exit 2."""
        hint = f"see `{self.prog} --help`"
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        print(f"{self.prog}: hint: {hint}", file=sys.stderr)
        if _json_requested:
            command = self.prog.removeprefix("pcf").strip() or None
            write_json(envelope(command or "", 2, None, (message, hint)))
        raise SystemExit(2)


def _add_globals(parser: argparse.ArgumentParser, top: bool) -> None:
    default: Any = None if top else argparse.SUPPRESS
    known = {s for a in parser._actions for s in a.option_strings}
    if not top:  # a subcommand's own copy must not reset what was given before it
        for action in parser._actions:
            if {"--json", "--log-level", "--log-format"} & set(action.option_strings):
                action.default = argparse.SUPPRESS
    if "--log-level" not in known:
        parser.add_argument(
            "--log-level",
            choices=["DEBUG", "INFO", "WARNING", "ERROR"],
            default=default,
            help="log threshold (default PCF_LOG_LEVEL, INFO); DEBUG shows error details",
        )
    if "--log-format" not in known:
        parser.add_argument(
            "--log-format",
            choices=["auto", "text", "json"],
            default=default,
            help="auto: readable at a terminal, JSON lines elsewhere (default PCF_LOG_FORMAT)",
        )
    if "--json" not in known:
        parser.add_argument(
            "--json",
            action="store_true",
            default=False if top else argparse.SUPPRESS,
            help="print one JSON document on stdout: {pcf, command, ok, exit_code, data, error}",
        )


def _walk(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.extend(_walk(child))
    return found


def build_parser() -> argparse.ArgumentParser:
    """The full ``pcf`` argument parser (global options accepted after the subcommand too)."""
    parser = PcfParser(
        prog="pcf",
        description=(
            "Player Composite Factors pipeline: safe per-date backfills. Runs on the embedded "
            "default (DuckDB + in-process bus) unless PCF_WAREHOUSE / PCF_BUS say otherwise."
        ),
        epilog="Exit codes: 0 ok, 1 blocked/failed/refused or runtime error, 2 usage error, "
        "130 interrupted. Every command takes --json (one envelope: pcf, command, ok, "
        "exit_code, data, error).",
    )
    parser.add_argument("--version", action="version", version=f"pcf {VERSION}")
    _add_globals(parser, top=True)
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", metavar="COMMAND", required=True),
    )
    for register in _registrars():
        register(sub)
    for child in _walk(parser)[1:]:
        _add_globals(child, top=False)
    return parser


Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrars() -> list[Registrar]:
    regs: list[Registrar] = [core.register]
    for name in ("backfill", "explain", "cleanup", "stack"):
        try:
            module = __import__(f"shared.tools.cli.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"shared.tools.cli.{name}":
                raise
            continue
        regs.append(module.register)
    return regs


def _configure_logging(args: argparse.Namespace) -> None:
    try:
        from shared.tools.cli.logtext import TextFormatter
    except ImportError:  # rich is a local extra: without it every format is JSON
        pass
    else:
        log.register_text_formatter(TextFormatter)
    try:
        settings = Settings()
        level, fmt = settings.log_level, settings.log_format
    except ValueError:
        level, fmt = "INFO", "auto"
    log.configure(args.log_level or level, fmt=args.log_format or fmt)


def _explain(exc: BaseException) -> tuple[int, str, str | None]:
    """(exit code, one-line message, hint) for an exception a command raised."""
    if isinstance(exc, UsageError):
        return 2, str(exc), exc.hint
    if isinstance(exc, CommandError):
        return 1, str(exc), exc.hint
    name = type(exc).__name__
    module = type(exc).__module__
    first = (str(exc).strip().splitlines() or [name])[0]
    if module.startswith("duckdb") and name == "CatalogException":
        return (
            1,
            f"warehouse is not initialized: {first}",
            "run `pcf init` (and `pcf seed --real` or `--synthetic` for input data)",
        )
    if module.startswith("duckdb") and name in ("ParserException", "BinderException"):
        return 2, f"SQL error: {first}", "check the query (BigQuery dialect)"
    if module.startswith("sqlglot"):
        return 2, f"SQL error: {first}", "check the query (BigQuery dialect)"
    if module.startswith("duckdb") and name == "IOException":
        return 1, f"cannot open the DuckDB warehouse: {first}", None
    if isinstance(exc, PermanentError):
        return (2 if getattr(exc, "usage", False) else 1), first, None
    if isinstance(exc, OSError):
        return 1, f"{exc.strerror or name}: {exc.filename or first}", None
    return 1, f"{name}: {first}", "run again with --log-level DEBUG for details"


def _report(prog: str, message: str, hint: str | None) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr)
    if hint:
        print(f"{prog}: hint: {hint}", file=sys.stderr)


def _broken_pipe() -> int:
    # stdout's reader went away (`pcf status | head`): silence the final flush and stop.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pcf``; return the exit code (0 ok, 1 blocked/failed/error, 2 usage, 130 Ctrl-C)."""
    global _warned_env, _json_requested
    argv = list(sys.argv[1:] if argv is None else argv)
    _json_requested = "--json" in argv
    reset_output()
    if not _warned_env:
        _warned_env = True
        for line in warn_unknown_env():
            print(line, file=sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    command: Command = args.func
    prog = f"pcf {args.command}"
    error: tuple[str, str | None] | None = None
    try:
        try:
            if getattr(args, "json", False):
                # Only the envelope goes to stdout: any human text a command prints moves aside.
                with contextlib.redirect_stdout(sys.stderr):
                    code = command(args)
            else:
                code = command(args)
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return _broken_pipe()
        except Exception as exc:
            from shared.tools.cli import (
                credentials_hint,
                is_local_only,
                is_missing_credentials,
                missing_module,
            )

            if isinstance(exc, ImportError) and is_local_only(missing_module(exc)):
                raise  # the package's guard names the extra to install (exit 2)
            if is_missing_credentials(exc):
                line = credentials_hint(argv, exc)
                print(line, file=sys.stderr)
                code, error = 2, (line.split(": ", 1)[1], None)
                if getattr(args, "json", False):
                    write_json(envelope(args.command, code, OUTPUT.data, error))
                return code
            code, message, hint = _explain(exc)
            if code == 1 and logging.getLogger("pcf").isEnabledFor(logging.DEBUG):
                log.exception(f"{prog} failed: {message}")
            _report("pcf", message, hint)
            error = (message, hint)
        if getattr(args, "json", False):
            write_json(envelope(args.command, code, OUTPUT.data, error))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _broken_pipe()
