"""A fingerprint of a full real-season backfill: every PCF row and every date's final ledger state.

sha256 over the sorted rows of every ``player_composite_factors`` column except ``run_id`` and
``processed_at`` (which differ between runs), then over each date's final ledger status and data
source. Run as a script to print the fingerprint of the code on the path::

    python -m tests.realdata.season_fingerprint /path/to/seeded.duckdb [field=value ...]
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date
from typing import Any

from shared.app import App
from shared.entrypoint import Delivery
from shared.messages import BackfillRequest
from shared.usecases import ledger
from shared.usecases.dispatch_backfill import dispatch_backfill
from shared.warehouse import Sql

RUN_ID = "fingerprint-season"
SEASON_START, SEASON_END = date(2022, 10, 18), date(2023, 4, 9)

_ROWS = Sql(
    "t.fingerprint_rows",
    "SELECT * FROM {player_composite_factors} WHERE game_date BETWEEN @a AND @b"
    " ORDER BY game_date, player_lookup",
    {"a": "DATE", "b": "DATE"},
)


def _canonical(value: Any) -> str:
    return f"{type(value).__name__}:{value!r}"


def fingerprint(app: App) -> tuple[str, int, dict[str, int]]:
    """(sha256, PCF rows, final statuses counted) of what the warehouse holds for the season."""
    digest = hashlib.sha256()
    rows = app.warehouse.query(_ROWS, {"a": SEASON_START, "b": SEASON_END})
    for row in rows:
        kept = {
            k: _canonical(v) for k, v in sorted(row.items()) if k not in ("run_id", "processed_at")
        }
        digest.update(json.dumps(kept, sort_keys=True).encode())
    statuses: dict[str, int] = {}
    latest = ledger.latest_by_date(app.warehouse, SEASON_START, SEASON_END, run_id=RUN_ID)
    for day in sorted(latest):
        r = latest[day]
        digest.update(f"{day}|{r['status']}|{r['data_source']}".encode())
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    return digest.hexdigest(), len(rows), statuses


def backfill_season(app: App, **fields: Any) -> None:
    """The whole season as one request through dispatch → process → validate (drained)."""
    dispatch_backfill(
        app,
        BackfillRequest(
            start_date=SEASON_START,
            end_date=SEASON_END,
            requested_by="fingerprint",
            run_id=RUN_ID,
            **fields,
        ),
        Delivery(None, None, None, {}),
    )
    assert app.bus.drain(timeout=600)  # type: ignore[attr-defined]


if __name__ == "__main__":
    from shared import log
    from tests.conftest import make_app

    log.configure("ERROR")
    a = make_app(f"duckdb:///{sys.argv[1]}")
    try:
        extra: dict[str, Any] = {}
        for arg in sys.argv[2:]:
            key, _, value = arg.partition("=")
            extra[key] = int(value) if value.isdigit() else value
        backfill_season(a, **extra)
        print(fingerprint(a))
    finally:
        a.close()
