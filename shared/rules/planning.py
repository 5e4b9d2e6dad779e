"""Pure per-date planning: skip (no games / bootstrap) or process, and the rerun filter."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from shared.rules.statuses import CHECKPOINTED, IN_FLIGHT, RETRYABLE, STALLED

Action = Literal["process", "skipped_no_games", "skipped_bootstrap"]


@dataclass(frozen=True)
class DatePlan:
    """What the warehouse holds for a date and what to do with it."""

    game_date: date
    scheduled_games: int
    final_games: int
    expected_players: int
    upcg_players: int
    season_start: date | None
    action: Action
    season_day: int | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], mode: str, bootstrap_days: int) -> DatePlan:
        """Build the plan of one DATE_PLAN row."""
        game_date = row["game_date"]
        if hasattr(game_date, "date") and not isinstance(game_date, date):
            game_date = game_date.date()
        season_start = row.get("season_start")
        if (
            season_start is not None
            and hasattr(season_start, "date")
            and not isinstance(season_start, date)
        ):
            season_start = season_start.date()
        scheduled = int(row.get("scheduled_games") or 0)
        final = int(row.get("final_games") or 0)
        expected = int(row.get("expected_players") or 0)
        upcg = int(row.get("upcg_players") or 0)
        action, day = decide_action(
            game_date=game_date,
            scheduled_games=scheduled,
            expected_players=expected,
            upcg_players=upcg,
            season_start=season_start,
            mode=mode,
            bootstrap_days=bootstrap_days,
        )
        return cls(game_date, scheduled, final, expected, upcg, season_start, action, day)


def decide_action(
    *,
    game_date: date,
    scheduled_games: int,
    expected_players: int,
    upcg_players: int,
    season_start: date | None,
    mode: str,
    bootstrap_days: int,
) -> tuple[Action, int | None]:
    """Skip dates without games and the first ``bootstrap_days`` days of a season (RULES §2.1)."""
    has_games = (
        scheduled_games > 0 or expected_players > 0 or (mode == "daily" and upcg_players > 0)
    )
    if not has_games:
        return "skipped_no_games", None
    if season_start is None:
        return "process", None
    day = (game_date - season_start).days
    if 0 <= day < bootstrap_days:
        return "skipped_bootstrap", day
    return "process", day


def select_for_rerun(
    latest_status: Mapping[date, str], dates: list[date], rerun: str
) -> tuple[list[date], dict[date, str]]:
    """Dates to send under ``rerun`` (missing | failed | all) and why the others are skipped."""

    send: list[date] = []
    skipped: dict[date, str] = {}
    for d in dates:
        status = latest_status.get(d)
        if rerun == "all":
            send.append(d)
        elif rerun == "failed":
            if status in RETRYABLE:
                send.append(d)
            else:
                skipped[d] = f"latest status {status or 'none'} is not blocked/failed/stalled"
        elif rerun == "missing":
            if status in CHECKPOINTED:
                skipped[d] = f"already checkpointed ({status})"
            else:
                send.append(d)
        else:
            raise ValueError(f"unknown rerun mode {rerun!r}: use missing, failed or all")
    return send, skipped


def reported_status(
    status: str, updated_at: datetime | None, now: datetime, lease_minutes: int
) -> str:
    """The status to report: an in-flight row untouched for longer than the lease is stalled."""
    if status in IN_FLIGHT and updated_at is not None:
        if updated_at.tzinfo is None:  # warehouse timestamps are UTC
            updated_at = updated_at.replace(tzinfo=UTC)
        if now - updated_at > timedelta(minutes=lease_minutes):
            return STALLED
    return status


def reported_statuses(
    latest: Mapping[date, Mapping[str, Any]], now: datetime, lease_minutes: int
) -> dict[date, str]:
    """``reported_status`` of the latest ledger row of every date."""
    return {
        d: reported_status(str(row["status"]), row.get("updated_at"), now, lease_minutes)
        for d, row in latest.items()
    }


_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def staging_table_name(run_id: str, game_date: date, last_date: date | None = None) -> str:
    """The staging table of one run and date (or chunk ``game_date..last_date``): a valid
    BigQuery table name for any run id.

    The run id is reduced to ``[A-Za-z0-9_]`` (readable) and a hash of the exact id keeps two
    ids that reduce alike (``a.b`` / ``a:b``) apart. A one-date chunk has the single-date name.
    """
    slug = _UNSAFE.sub("_", run_id)[:48]
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:12]
    days = f"{game_date:%Y%m%d}"
    if last_date is not None and last_date != game_date:
        days += f"_{last_date:%Y%m%d}"
    return f"pcf_stage__{days}__{slug}__{digest}"


def chunk_dates(dates: list[date], size: int) -> list[list[date]]:
    """Pure: the sorted dates in consecutive chunks of at most ``size`` (the last may be short)."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    ordered = sorted(set(dates))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]
