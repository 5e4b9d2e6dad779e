"""Use case ``record_dead_letter``: a date message that used up its deliveries ends ``failed``.

The dead-letter topics of ``process_date`` and ``validate_coverage`` deliver the original
payload (a ProcessDate or a ValidateCoverage) with Pub/Sub's dead-letter attributes. Without
this consumer the date would stay ``processing``/``written`` forever and no rerun would pick it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import log
from shared.app import App
from shared.entrypoint import Delivery
from shared.messages import Alert, DeadLetter
from shared.sql import ledger as sql
from shared.sql import processing as processing_sql
from shared.topology import load_topology

# Set by Pub/Sub on every message it forwards to a dead-letter topic.
DELIVERY_COUNT_ATTRIBUTE = "CloudPubSubDeadLetterSourceDeliveryCount"
SOURCE_SUBSCRIPTION_ATTRIBUTE = "CloudPubSubDeadLetterSourceSubscription"


@dataclass(frozen=True)
class DeadLetterResult:
    """What the consumer recorded."""

    attempts: int
    marked_failed: bool
    error: str


def delivery_count(delivery: Delivery, default: int) -> int:
    """How many deliveries the message used up (Pub/Sub's attribute, else the policy's max)."""
    raw = delivery.attributes.get(DELIVERY_COUNT_ATTRIBUTE)
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def record_dead_letter(app: App, msg: DeadLetter, delivery: Delivery) -> DeadLetterResult:
    """Mark the run's date(s) ``failed`` ("dead-lettered after N attempts"), alert per date."""
    attempts = delivery_count(delivery, load_topology().delivery.max_delivery_attempts)
    kind = delivery.attributes.get("type") or "message"
    source = delivery.attributes.get(SOURCE_SUBSCRIPTION_ATTRIBUTE)
    error = f"dead-lettered after {attempts} attempts ({kind})"
    dates = msg.dates
    affected = app.warehouse.execute(
        sql.MARK_DEAD_LETTERED,
        {
            **processing_sql.dates_params(dates),
            "run_id": msg.run_id,
            "error": error,
            "last_message_id": delivery.message_id,
            "mode": msg.mode,
            "requested_by": msg.requested_by,
            "attempts": attempts,
            "dispatched_at": msg.dispatched_at,
            "calculation_version": app.settings.calculation_version,
        },
    )
    # One INSERT into the append-only ledger: the rows inserted are the dates marked (a date
    # whose state already ended well gets no row).
    marked = affected > 0
    for day in dates:
        with log.log_context(game_date=day):
            log.event(
                "ERROR",
                f"{day} of run {msg.run_id} {error}"
                + (
                    "; ledger marked failed"
                    if marked
                    else "; the date had already ended, left as is"
                ),
                status="failed" if marked else None,
                attempts=attempts,
                source_subscription=source,
            )
        app.alert(
            Alert(
                kind="dead_lettered",
                summary=f"{day} ({kind} of run {msg.run_id}) {error}; "
                "rerun it with `pcf backfill --rerun failed`",
                run_id=msg.run_id,
                game_date=day,
                details={
                    "attempts": attempts,
                    "message_type": kind,
                    "source_subscription": source,
                    "marked_failed": marked,
                },
            ),
        )
    return DeadLetterResult(attempts, marked, error)
