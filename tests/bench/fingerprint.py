"""A fingerprint of a warehouse's whole PCF output, and a full backfill to produce it.

The fingerprint is the SHA-256 over every output row (sorted by game date, then player) of every
column except the run columns (``run_id``, ``processed_at``), each value rendered canonically. Two
runs over the same inputs give the same fingerprint exactly when every row's values, sources,
contexts and hashes are identical — the before/after guard of the throughput work (issue 13).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.app import App
from shared.entrypoint import Delivery
from shared.messages import BackfillRequest
from shared.warehouse import Sql, Warehouse

RUN_COLUMNS = ("run_id", "processed_at")

ALL_OUTPUT = Sql(
    "bench.all_output",
    "SELECT * FROM {player_composite_factors} ORDER BY game_date, player_lookup",
)
SEASON_RANGE = Sql(
    "bench.season_range",
    "SELECT MIN(game_date) AS first_date, MAX(game_date) AS last_date FROM {nba_schedule}"
    " WHERE game_status = 3",
)


def render(value: Any) -> str:
    """One value as text, the same for equal values of the same column on every run."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value + 0.0)
    if isinstance(value, Decimal):
        # NUMERIC comes back with its scale (1.500000000); normalise so the scale is irrelevant.
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def output_fingerprint(warehouse: Warehouse) -> tuple[int, str]:
    """(row count, SHA-256 hex) of every output row without the run columns."""
    rows = warehouse.query(ALL_OUTPUT)
    lines = []
    for row in rows:
        cells = [f"{k}={render(v)}" for k, v in sorted(row.items()) if k not in RUN_COLUMNS]
        lines.append("\x1f".join(cells))
    lines.sort()
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    return len(rows), digest


def season_range(warehouse: Warehouse) -> tuple[date, date]:
    """First and last date with a final game in the seeded schedule."""
    row = warehouse.query(SEASON_RANGE)[0]
    return row["first_date"], row["last_date"]


def windows(first: date, last: date, size: int) -> list[tuple[date, date]]:
    """[first, last] cut into consecutive windows of at most ``size`` calendar days."""
    out = []
    while first <= last:
        end = min(last, first + timedelta(days=size - 1))
        out.append((first, end))
        first = end + timedelta(days=1)
    return out


def full_backfill(app: App, run_id: str, source: str = "auto", timeout_s: float = 1800) -> int:
    """Backfill the whole seeded schedule and wait for every cascade; return the request count.

    A range longer than ``max_dates_per_request`` is sent as consecutive requests (as an
    operator would split it), all in flight at once.
    """
    from shared.usecases.dispatch_backfill import dispatch_backfill

    first, last = season_range(app.warehouse)
    parts = windows(first, last, app.settings.max_dates_per_request)
    for start, end in parts:
        dispatch_backfill(
            app,
            BackfillRequest(
                start_date=start,
                end_date=end,
                requested_by="fingerprint",
                run_id=run_id,
                source=source,  # type: ignore[arg-type]
            ),
            Delivery(message_id=None, attempt=None, publish_time=None, attributes={}),
        )
    if not app.bus.drain(timeout=timeout_s):  # type: ignore[attr-defined]
        raise RuntimeError(f"backfill {run_id} did not finish within {timeout_s:.0f} s")
    return len(parts)
