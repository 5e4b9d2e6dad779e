"""Readable, coloured log lines for a terminal (one line per event), rendered with rich."""

from __future__ import annotations

import io
import logging
import shutil
import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from shared.log import _default

LEVEL_STYLES = {
    "DEBUG": "dim",
    "INFO": "cyan",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
}
# Context keys shown before the message (what an operator scans for), in this order.
LEAD_KEYS = ("game_date",)
# Context that is the same on every line of one command: kept for JSON, left out of text.
QUIET_KEYS = {"run_id", "message_id", "delivery_attempt"}


def _value(value: Any) -> str:
    shown = _default(value) if not isinstance(value, (str, int, float, bool)) else value
    if isinstance(shown, float):
        return f"{shown:g}"
    return str(shown)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL [date] message  key=value …`` — one line, coloured on a terminal."""

    def __init__(self, color: bool | None = None, width: int | None = None) -> None:
        super().__init__()
        self.color = color
        self.width = width

    def _color(self) -> bool:
        if self.color is not None:
            return self.color
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    def format(self, record: logging.LogRecord) -> str:
        """The record as one (possibly truncated) line."""
        fields: dict[str, Any] = {
            **(getattr(record, "pcf_context", {}) or {}),
            **(getattr(record, "pcf_fields", {}) or {}),
        }
        line = Text()
        line.append(datetime.fromtimestamp(record.created).strftime("%H:%M:%S "), style="dim")
        line.append(f"{record.levelname:<7} ", style=LEVEL_STYLES.get(record.levelname, ""))
        for key in LEAD_KEYS:
            if fields.get(key) is not None:
                line.append(f"{_value(fields.pop(key))} ", style="bold")
        line.append(record.getMessage())
        extras = [
            (k, v)
            for k, v in fields.items()
            if v is not None and k not in QUIET_KEYS and not str(v).startswith("{")
        ]
        for key, value in extras:
            line.append(f"  {key}=", style="dim")
            line.append(_value(value).replace("\n", " "))
        color = self._color()
        width = self.width or (shutil.get_terminal_size((200, 50)).columns if color else 0)
        if width and len(line) > width:
            line.truncate(width - 1)
            line.append("…")
        out = line.plain
        if color:
            buf = io.StringIO()
            Console(file=buf, force_terminal=True, color_system="standard", width=10_000).print(
                line, end="", soft_wrap=True, highlight=False
            )
            out = buf.getvalue()
        if record.exc_info:
            out += "\n" + self.formatException(record.exc_info)
        return out
