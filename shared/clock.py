"""Time rules shared by the use cases: the pipeline's calendar is New York's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")


def et_today(now_utc: datetime) -> date:
    """The calendar date in America/New_York at ``now_utc`` (a naive datetime is taken as UTC)."""
    moment = now_utc if now_utc.tzinfo is not None else now_utc.replace(tzinfo=UTC)
    return moment.astimezone(ET).date()
