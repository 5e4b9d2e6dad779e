"""Per-date checkpoint and audit rows in nba_orchestration.backfill_ledger.

Append-only: a step is one INSERT of the key's new full state (shared/sql/ledger.py); the state
of a (run_id, game_date) is its latest row, and the older rows are its history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from shared.messages import Alert, ProcessDate, ValidateCoverage
from shared.rules.statuses import STATUSES
from shared.sql import ledger as sql
from shared.warehouse import Warehouse

if TYPE_CHECKING:
    from shared.app import App


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
    source_reason: str | None = None
    missing_players: int | None = None
    dispatched_at: datetime | None = None
    staging_table: str | None = None
    calculation_version: str | None = None

    def params(self) -> dict[str, Any]:
        """Query parameters for ledger.append."""
        if self.status not in STATUSES:
            raise ValueError(f"unknown ledger status {self.status!r}")
        values = dict(self.__dict__)
        if self.coverage_pct is not None:
            values["coverage_pct"] = Decimal(str(round(self.coverage_pct, 1)))
        if self.error is not None:
            values["error"] = self.error[:2000]
        if self.source_reason is not None:
            values["source_reason"] = self.source_reason[:2000]
        return values


def dispatch_time(
    dispatched_at: datetime | None, publish_time: str | None, now: datetime
) -> datetime:
    """When a run was dispatched (its fencing order): as the message says, else the message's
    publish time, else now (a message from before dispatch times travelled)."""
    if dispatched_at is not None:
        return dispatched_at
    if publish_time:
        try:
            return datetime.fromisoformat(publish_time.replace("Z", "+00:00"))
        except ValueError:
            pass
    return now.astimezone(UTC)


def record_failure(
    app: App,
    msg: ProcessDate | ValidateCoverage,
    message_id: str | None,
    exc: Exception,
    kind: Literal["processing_failed", "validation_failed", "publish_failed"],
    what: str,
    dispatched_at: datetime | None = None,
    dates: Sequence[date] | None = None,
    also: Sequence[LedgerUpdate] = (),
) -> None:
    """Mark every date of the message (or ``dates``) ``failed`` with the error, in one ledger
    statement with ``also`` (other dates' outcomes), and raise an Alert per failed date."""
    error = f"{type(exc).__name__}: {exc}"
    failed = list(dates if dates is not None else msg.dates)
    record_many(
        app.warehouse,
        sorted(
            [
                LedgerUpdate(
                    run_id=msg.run_id,
                    game_date=day,
                    status="failed",
                    mode=msg.mode,
                    error=error,
                    last_message_id=message_id,
                    dispatched_at=dispatched_at,
                    calculation_version=app.settings.calculation_version,
                )
                for day in failed
            ]
            + list(also),
            key=lambda u: u.game_date,
        ),
    )
    for day in failed:
        app.alert(
            Alert(
                kind=kind,
                summary=f"{what} of {day} failed: {error}",
                run_id=msg.run_id,
                game_date=day,
                details={"error": error},
            ),
        )


def record(warehouse: Warehouse, update: LedgerUpdate) -> None:
    """Append one ledger step (one INSERT, one round trip)."""
    warehouse.execute(sql.APPEND, update.params())


def record_many(warehouse: Warehouse, updates: Sequence[LedgerUpdate]) -> None:
    """One ledger step for every date of a chunk in ONE INSERT (from staged rows; a single
    date keeps the parameterised append). Never a mutating DML on the ledger."""
    if not updates:
        return
    if len(updates) == 1:
        record(warehouse, updates[0])
        return
    rows = []
    for update in updates:
        values = update.params()
        values["attempts"] = values.pop("attempt_increment")
        rows.append(values)
    days = [u.game_date for u in updates]
    staging = warehouse.stage_rows("backfill_ledger", rows, tag=updates[0].run_id[-12:])
    try:
        warehouse.execute(
            sql.APPEND_MANY, {"start_date": min(days), "end_date": max(days)}, staging=staging
        )
    finally:
        warehouse.drop_staging(staging)


def latest_by_date(
    warehouse: Warehouse,
    start: date,
    end: date,
    run_id: str | None = None,
    calculation_version: str | None = None,
) -> dict[date, dict[str, Any]]:
    """The latest state per date in [start, end] (optionally of one run / version)."""
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
