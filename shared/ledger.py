"""Per-date checkpoint and audit rows in nba_orchestration.backfill_ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from shared.sql import ledger as sql
from shared.warehouse import Warehouse

CHECKPOINTED = ("succeeded", "warned", "forced")
RETRYABLE = ("blocked", "failed")
SKIPPED = ("skipped_no_games", "skipped_bootstrap")
FINAL_OK = (*CHECKPOINTED, *SKIPPED)
STATUSES = ("queued", "processing", "written", *CHECKPOINTED, *RETRYABLE, *SKIPPED)


@dataclass(frozen=True)
class LedgerUpdate:
    """One step of a date's life; None fields leave the stored value unchanged."""

    run_id: str
    game_date: date
    status: str
    mode: str | None = None
    expected_players: int | None = None
    upcg_players: int | None = None
    actual_players: int | None = None
    coverage_pct: float | None = None
    data_source: str | None = None
    forced: bool | None = None
    force_reason: str | None = None
    requested_by: str | None = None
    attempt_increment: int = 0
    last_message_id: str | None = None
    error: str | None = None
    calculation_version: str | None = None

    def params(self) -> dict[str, Any]:
        """Query parameters for ledger.upsert."""
        if self.status not in STATUSES:
            raise ValueError(f"unknown ledger status {self.status!r}")
        values = dict(self.__dict__)
        if self.coverage_pct is not None:
            values["coverage_pct"] = Decimal(str(round(self.coverage_pct, 1)))
        if self.error is not None:
            values["error"] = self.error[:2000]
        return values


def record(warehouse: Warehouse, update: LedgerUpdate) -> None:
    """Upsert one ledger step (one round trip)."""
    warehouse.execute(sql.UPSERT, update.params())


def latest_by_date(
    warehouse: Warehouse,
    start: date,
    end: date,
    run_id: str | None = None,
    calculation_version: str | None = None,
) -> dict[date, dict[str, Any]]:
    """The latest ledger row per date in [start, end] (optionally of one run / version)."""
    rows = warehouse.query(
        sql.LATEST_BY_DATE,
        {
            "start_date": start,
            "end_date": end,
            "run_id": run_id,
            "calculation_version": calculation_version,
        },
    )
    return {row["game_date"]: row for row in rows}
