"""The ``pcf`` command: init, seed, process, backfill, status, report, cleanup, schedule, sql."""

from __future__ import annotations

from shared.tools.cli.main import main

__all__ = ["main"]
