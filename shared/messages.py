"""Pub/Sub payloads: one pydantic model per topic, and CloudEvent decoding."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shared.clock import et_today
from shared.rules.cleanup import today_problem
from shared.rules.statuses import DataSource

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

SourcePin = Literal["auto", "upcg", "synthetic"]
Mode = Literal["backfill", "daily"]
Rerun = Literal["missing", "failed", "all"]
# The most dates one ProcessDate/ValidateCoverage message may carry.
MAX_CHUNK = 400


def _iso_date(value: object) -> object:
    """Accept ``date`` objects or strict ISO ``YYYY-MM-DD`` strings only."""
    if isinstance(value, datetime):
        raise ValueError("expected a date (YYYY-MM-DD), got a datetime")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError(f"expected an ISO date YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"impossible date {value!r}: {exc}") from exc


def _run_id(value: object) -> object:
    if value is None:
        return value
    if not isinstance(value, str) or not _RUN_ID.match(value):
        raise ValueError("run_id must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
RunId = Annotated[str, BeforeValidator(_run_id)]


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: ``r<UTC timestamp>-<random hex>``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"r{moment:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


class Message(BaseModel):
    """Base for every payload: unknown fields are rejected, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_bytes(self) -> bytes:
        """Serialize to the UTF-8 JSON carried in ``message.data``."""
        return self.model_dump_json(exclude_none=True).encode("utf-8")


class _ForceAudit(Message):
    force: bool = False
    force_reason: str | None = Field(default=None, max_length=1000)
    requested_by: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _reason_required(self) -> _ForceAudit:
        if self.force and not (self.force_reason or "").strip():
            raise ValueError(
                "force requires a non-empty force_reason (say why the gate is overridden)"
            )
        return self


class BackfillRequest(_ForceAudit):
    """A date range (or explicit list) to backfill; dispatch fans it out per date."""

    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    dates: list[IsoDate] | None = None
    dry_run: bool = False
    rerun: Rerun = "missing"
    source: SourcePin = "auto"
    mode: Mode = "backfill"
    run_id: RunId | None = None
    # Dates per ProcessDate message (None: the setting ``chunk_size``); 1 = one message a date.
    chunk_size: int | None = Field(default=None, ge=1, le=MAX_CHUNK)

    @model_validator(mode="after")
    def _range_or_list(self) -> BackfillRequest:
        has_range = self.start_date is not None or self.end_date is not None
        if has_range and self.dates is not None:
            raise ValueError("give either start_date/end_date or dates, not both")
        if self.dates is not None:
            if not self.dates:
                raise ValueError("dates must not be empty")
            return self
        if self.start_date is None or self.end_date is None:
            raise ValueError("give start_date and end_date (inclusive) or a list of dates")
        if self.end_date < self.start_date:
            raise ValueError(
                f"end_date {self.end_date} is before start_date {self.start_date}; swap them"
            )
        return self


def _chunk_problem(game_date: date, game_dates: list[date] | None) -> str | None:
    """Why a chunk of dates is malformed (None when it is fine)."""
    if game_dates is None:
        return None
    if not game_dates:
        return "game_dates must not be empty (omit it for a single date)"
    if len(game_dates) > MAX_CHUNK:
        return f"game_dates holds {len(game_dates)} dates; at most {MAX_CHUNK} per message"
    if game_dates != sorted(set(game_dates)):
        return "game_dates must be sorted ascending without duplicates"
    if game_dates[0] != game_date:
        return f"game_date {game_date} must be the first of game_dates ({game_dates[0]})"
    return None


class ProcessDate(_ForceAudit):
    """Process one game date, or a chunk of dates (``game_dates``; ``game_date`` is its first)."""

    run_id: RunId
    game_date: IsoDate
    game_dates: list[IsoDate] | None = None
    mode: Mode = "backfill"
    source: SourcePin = "auto"
    # When the run was dispatched: the order of runs for fencing (a newer run wins).
    dispatched_at: datetime | None = None

    @model_validator(mode="after")
    def _chunk(self) -> ProcessDate:
        problem = _chunk_problem(self.game_date, self.game_dates)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def dates(self) -> list[date]:
        """Every date this message carries (one, or the chunk)."""
        return list(self.game_dates) if self.game_dates else [self.game_date]


class WrittenDate(Message):
    """What process_date staged for one date of a chunk (the per-date half of ValidateCoverage)."""

    game_date: IsoDate
    data_source: DataSource
    upcg_players: int = Field(ge=0)
    expected_players: int = Field(ge=0)
    rows_written: int = Field(ge=0)
    rows_rejected: int = Field(default=0, ge=0)


class ValidateCoverage(_ForceAudit):
    """Validate one date's (or a chunk's) written output before it is checkpointed."""

    run_id: RunId
    game_date: IsoDate
    game_dates: list[IsoDate] | None = None
    # Per date of a chunk: what was staged (the single-date fields below describe game_date).
    written: list[WrittenDate] | None = None
    mode: Mode = "backfill"
    source: SourcePin = "auto"
    data_source: DataSource | None = None
    upcg_players: int | None = Field(default=None, ge=0)
    expected_players: int | None = Field(default=None, ge=0)
    rows_written: int | None = Field(default=None, ge=0)
    rows_rejected: int | None = Field(default=None, ge=0)
    dispatched_at: datetime | None = None

    @model_validator(mode="after")
    def _chunk(self) -> ValidateCoverage:
        problem = _chunk_problem(self.game_date, self.game_dates)
        if problem:
            raise ValueError(problem)
        if self.written is not None and [w.game_date for w in self.written] != self.dates:
            raise ValueError("written must describe exactly the dates of the message, in order")
        return self

    @property
    def dates(self) -> list[date]:
        """Every date this message carries (one, or the chunk)."""
        return list(self.game_dates) if self.game_dates else [self.game_date]


class DeadLetter(ValidateCoverage):
    """A ProcessDate or ValidateCoverage payload, as a dead-letter topic delivers it.

    The fields of ValidateCoverage include every field of ProcessDate, so either decodes.
    """


class CleanupRequest(Message):
    """TTL cleanup of the upcoming_* tables (the scheduler sends ``{"trigger": "scheduled"}``),
    or ``{"action": "restore", "cleanup_id": …}``: put a cleanup's backed-up rows back."""

    trigger: Literal["scheduled", "manual"] = "manual"
    action: Literal["cleanup", "restore"] = "cleanup"
    cleanup_id: str | None = Field(default=None, pattern=r"^c\d{8}T\d{6}Z_[0-9a-f]{6}$")
    dry_run: bool = False
    ttl_days: int | None = Field(default=None, ge=1, le=365)
    today: IsoDate | None = None
    tables: list[str] | None = None
    allow_large_delete: bool = False
    requested_by: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _coherent(self) -> CleanupRequest:
        if self.action == "restore" and self.cleanup_id is None:
            raise ValueError("a restore needs cleanup_id (see `pcf cleanup list`)")
        if self.action == "cleanup" and self.cleanup_id is not None:
            raise ValueError('cleanup_id is only for {"action": "restore"}')
        if self.today is not None:
            problem = today_problem(self.today, et_today(datetime.now(UTC)))
            if problem:
                raise ValueError(problem)
        return self


# Every alert kind the code can publish; each maps to an alert policy (infra/terraform).
AlertKind = Literal[
    "coverage_blocked",
    "validation_failed",
    "processing_failed",
    "publish_failed",
    "stale_run",
    "dead_lettered",
    "dispatch_failed",
    "bad_message",
    "cleanup_refused",
    "cleanup_failed",
    "cleanup_reconciled",
]
ALERT_KINDS: tuple[str, ...] = AlertKind.__args__  # type: ignore[attr-defined]


class Alert(Message):
    """Something an operator must look at: a blocked/failed date or a refused/failed cleanup."""

    kind: AlertKind
    severity: Literal["WARNING", "ERROR", "CRITICAL"] = "ERROR"
    summary: str
    run_id: str | None = None
    game_date: IsoDate | None = None
    table_name: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    raised_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


M = TypeVar("M", bound=Message)


class BadMessage(ValueError):
    """A Pub/Sub message that can never succeed (decode or validation failure)."""


@dataclass(frozen=True)
class Envelope:
    """The parts of a Pub/Sub CloudEvent we read: data, attributes, id, publish time."""

    data: bytes
    attributes: Mapping[str, str]
    message_id: str | None
    publish_time: str | None
    delivery_attempt: int | None = None


def envelope_from_cloud_event(event_data: Any) -> Envelope:
    """Read ``data.message.{data, attributes, messageId, publishTime}`` from a CloudEvent body."""
    if not isinstance(event_data, Mapping):
        raise BadMessage(f"CloudEvent data is not an object: {type(event_data).__name__}")
    message = event_data.get("message")
    if not isinstance(message, Mapping):
        raise BadMessage("CloudEvent data has no 'message' object (is this a Pub/Sub event?)")
    message_id = message.get("messageId") or message.get("message_id")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise BadMessage("message.attributes is not an object")
    raw = message.get("data")
    if raw is None:
        raise BadMessage("message.data is missing")
    try:
        data = base64.b64decode(str(raw), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadMessage(f"message.data is not valid base64: {exc}") from exc
    attempt = event_data.get("deliveryAttempt")
    return Envelope(
        data=data,
        attributes={str(k): str(v) for k, v in attributes.items()},
        message_id=str(message_id) if message_id is not None else None,
        publish_time=message.get("publishTime") or message.get("publish_time"),
        delivery_attempt=int(attempt) if isinstance(attempt, int) else None,
    )


def parse_payload(model: type[M], data: bytes) -> M:
    """Decode UTF-8 JSON into ``model``; raise BadMessage naming what is wrong."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage(f"message.data is not UTF-8: {exc}") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadMessage(f"message.data is not JSON ({exc.msg} at char {exc.pos})") from exc
    if not isinstance(obj, dict):
        raise BadMessage(f"{model.__name__} must be a JSON object, got {type(obj).__name__}")
    try:
        return model.model_validate(obj)
    except ValueError as exc:
        raise BadMessage(f"invalid {model.__name__}: {_short_errors(exc)}") from exc


def _short_errors(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "message"
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts)
