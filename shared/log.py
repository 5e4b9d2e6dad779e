"""Structured logging: one JSON object per line with ``severity`` (Cloud Logging format).

JSON is the only format the runtime knows (Cloud Functions always log JSON). A local tool may
register a readable text formatter (``register_text_formatter``) that ``configure(fmt="text")``
or ``fmt="auto"`` at a terminal uses; the runtime never imports it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

LogFormat = Literal["auto", "text", "json"]

_LOGGER_NAME = "pcf"
# Immutable default: every log_context() sets a fresh dict.
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "pcf_log_context", default=MappingProxyType({})
)


def _default(value: object) -> object:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line: severity, message, context and fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "time": datetime.fromtimestamp(record.created).astimezone().isoformat(),
        }
        payload.update(getattr(record, "pcf_context", {}) or {})
        payload.update(getattr(record, "pcf_fields", {}) or {})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=_default, sort_keys=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (it may be swapped after configure)."""

    def emit(self, record: logging.LogRecord) -> None:
        # Not setStream(): it flushes the old stream, which may be closed by now (pytest's
        # capture), and a log call must never raise.
        self.stream = sys.stderr
        super().emit(record)


# Set by a local tool (the pcf CLI): a factory of the readable text formatter.
_text_formatter: Callable[[], logging.Formatter] | None = None


def register_text_formatter(factory: Callable[[], logging.Formatter]) -> None:
    """Make ``fmt="text"`` available (the local tools register their renderer)."""
    global _text_formatter
    _text_formatter = factory


def resolve_format(fmt: LogFormat, stream: Any = None) -> Literal["text", "json"]:
    """``auto`` → ``text`` on a terminal when a text renderer is registered, else ``json``."""
    if fmt == "json" or _text_formatter is None:
        return "json"
    if fmt == "text":
        return "text"
    target = stream if stream is not None else sys.stderr
    try:
        return "text" if target.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def configure(level: str = "INFO", stream: Any = None, fmt: LogFormat = "json") -> None:
    """Install the pcf handler on the ``pcf`` logger (idempotent); JSON unless ``fmt`` says."""
    logger = logging.getLogger(_LOGGER_NAME)
    logger.setLevel(level)
    logger.propagate = True
    for handler in list(logger.handlers):
        if getattr(handler, "_pcf", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    text = resolve_format(fmt, stream) == "text" and _text_formatter is not None
    handler.setFormatter(_text_formatter() if text and _text_formatter else JsonFormatter())
    handler._pcf = True  # type: ignore[attr-defined]
    logger.addHandler(handler)


def ensure_configured(level: str = "INFO") -> None:
    """Configure JSON logging unless a pcf handler is already installed (once per process)."""
    if not any(getattr(h, "_pcf", False) for h in logging.getLogger(_LOGGER_NAME).handlers):
        configure(level)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach fields (run_id, game_date, message_id, ...) to every log line inside the block."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def event(severity: str, message: str, **fields: Any) -> None:
    """Log one structured event at ``severity`` (DEBUG/INFO/WARNING/ERROR/CRITICAL)."""
    logger = logging.getLogger(_LOGGER_NAME)
    level = logging.getLevelName(severity.upper())
    if not isinstance(level, int):
        level = logging.INFO
    logger.log(level, message, extra={"pcf_context": dict(_context.get()), "pcf_fields": fields})


def exception(message: str, **fields: Any) -> None:
    """Log an ERROR event with the current exception's traceback."""
    logging.getLogger(_LOGGER_NAME).error(
        message,
        exc_info=True,
        extra={"pcf_context": dict(_context.get()), "pcf_fields": fields},
    )
