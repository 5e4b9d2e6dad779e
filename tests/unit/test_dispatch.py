"""``dispatch_backfill``: date resolution, run ids, dry runs, the gates, malformed requests."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.app import App
from shared.bus.base import Publisher
from shared.clock import et_today
from shared.entrypoint import Delivery, run
from shared.messages import Alert, BackfillRequest, Message, ProcessDate
from shared.sql import ledger as ledger_sql
from shared.usecases import ledger
from shared.usecases.dispatch_backfill import (
    RequestError,
    dispatch_backfill,
    resolve_dates,
    run_id_for,
)
from shared.warehouse.base import Sql
from tests.fakes import local_bus

SEASON_START = date(2023, 1, 1)  # day 0; days 0-13 are bootstrap, 2023-01-15 is processed
OFF_DAYS = {date(2023, 1, 20), date(2023, 1, 21)}
LAST_DAY = date(2023, 1, 25)
PLAYERS = 12
NO_DELIVERY = Delivery(message_id=None, attempt=None, publish_time=None, attributes={})


def d(text: str) -> date:
    return date.fromisoformat(text)


def seed_mini_season(app: App) -> None:
    """One final game (AAA at BBB) a day from SEASON_START to LAST_DAY except OFF_DAYS."""
    schedule, pgs = [], []
    day = SEASON_START
    while day <= LAST_DAY:
        if day not in OFF_DAYS:
            game = f"g{day:%Y%m%d}"
            schedule.append(
                {
                    "game_id": game,
                    "game_date": day,
                    "season_year": 2022,
                    "home_team_abbr": "AAA",
                    "away_team_abbr": "BBB",
                    "game_status": 3,
                }
            )
            for i in range(PLAYERS):
                team, opp = ("AAA", "BBB") if i % 2 else ("BBB", "AAA")
                pgs.append(
                    {
                        "player_lookup": f"player{i:02d}",
                        "game_id": game,
                        "game_date": day,
                        "season_year": 2022,
                        "team_abbr": team,
                        "opponent_team_abbr": opp,
                        "minutes_played": 30.0,
                        "usage_rate": 20.0,
                    }
                )
        day += timedelta(days=1)
    app.warehouse.insert_rows("nba_schedule", schedule)
    app.warehouse.insert_rows("player_game_summary", pgs)


# The state of every (run, date) key: the ledger is append-only, its latest row per key.
ALL_LEDGER = Sql(
    "test.all_ledger",
    f"WITH state AS ({ledger_sql.states('game_date >= @d')}) "
    "SELECT * FROM state ORDER BY game_date, run_id",
    {"d": "DATE"},
)
# Every row (step) of every key, oldest first per key.
ALL_LEDGER_STEPS = Sql(
    "test.all_ledger_steps",
    "SELECT * FROM {backfill_ledger} WHERE game_date >= @d "
    f"ORDER BY game_date, run_id, updated_at, {ledger_sql.STEP_RANK}",
    {"d": "DATE"},
)


def all_ledger_rows(app: App) -> list[dict[str, Any]]:
    """The state of every (run, date) key of every run."""
    return app.warehouse.query(ALL_LEDGER, {"d": date(2000, 1, 1)})


def all_ledger_steps(app: App) -> list[dict[str, Any]]:
    """Every ledger row (each step of each key), oldest first per key."""
    return app.warehouse.query(ALL_LEDGER_STEPS, {"d": date(2000, 1, 1)})


def process_messages(bus: Any) -> list[ProcessDate]:
    """ProcessDate messages published on a local bus."""
    return [m for m in bus.messages("process_date") if isinstance(m, ProcessDate)]


# -- resolve_dates (pure) -----------------------------------------------------------------------
TODAY = date(2023, 6, 1)


def test_range_is_inclusive() -> None:
    req = BackfillRequest(start_date=d("2023-02-27"), end_date=d("2023-03-02"))
    assert resolve_dates(req, TODAY, 400) == [
        d("2023-02-27"),
        d("2023-02-28"),
        d("2023-03-01"),
        d("2023-03-02"),
    ]
    one = BackfillRequest(start_date=d("2023-02-23"), end_date=d("2023-02-23"))
    assert resolve_dates(one, TODAY, 400) == [d("2023-02-23")]


def test_list_is_deduplicated_and_sorted() -> None:
    req = BackfillRequest(
        dates=["2023-02-24", "2023-02-23", "2023-02-24", "2022-11-01"]  # type: ignore[list-item]
    )
    assert resolve_dates(req, TODAY, 400) == [d("2022-11-01"), d("2023-02-23"), d("2023-02-24")]


def test_at_most_400_dates() -> None:
    start = d("2021-01-01")
    ok = BackfillRequest(start_date=start, end_date=start + timedelta(days=399))
    assert len(resolve_dates(ok, TODAY, 400)) == 400
    too_many = BackfillRequest(start_date=start, end_date=start + timedelta(days=400))
    with pytest.raises(RequestError, match="is 401 dates; at most 400 per request"):
        resolve_dates(too_many, TODAY, 400)
    listed = [start + timedelta(days=i) for i in range(401)]
    with pytest.raises(RequestError, match="401 dates requested; at most 400"):
        resolve_dates(BackfillRequest(dates=listed), TODAY, 400)
    # Duplicates do not count against the limit.
    assert len(resolve_dates(BackfillRequest(dates=listed[:400] + listed[:5]), TODAY, 400)) == 400
    # The limit is a setting.
    with pytest.raises(RequestError, match="at most 3"):
        resolve_dates(BackfillRequest(dates=listed[:4]), TODAY, 3)


def test_future_is_judged_in_new_york() -> None:
    now = datetime(2026, 3, 10, 3, 30, tzinfo=UTC)  # 23:30 on 03-09 in New York (EDT)
    today = et_today(now)
    assert today == d("2026-03-09")
    assert et_today(datetime(2026, 1, 10, 4, 59, tzinfo=UTC)) == d("2026-01-09")  # EST
    assert et_today(datetime(2026, 1, 10, 5, 0, tzinfo=UTC)) == d("2026-01-10")

    upto_today = BackfillRequest(start_date=d("2026-03-08"), end_date=d("2026-03-09"))
    assert resolve_dates(upto_today, today, 400)[-1] == d("2026-03-09")
    tomorrow = BackfillRequest(start_date=d("2026-03-08"), end_date=d("2026-03-10"))
    with pytest.raises(RequestError, match=r"2026-03-10 is in the future \(today is 2026-03-09"):
        resolve_dates(tomorrow, today, 400)
    with pytest.raises(RequestError, match="in the future"):
        resolve_dates(BackfillRequest(dates=[d("2023-02-23"), d("2026-03-10")]), today, 400)
    # Daily mode is for upcoming games.
    daily = BackfillRequest(dates=[d("2026-03-10")], mode="daily")
    assert resolve_dates(daily, today, 400) == [d("2026-03-10")]


# -- run ids ------------------------------------------------------------------------------------
def test_run_id_is_stable_across_redeliveries() -> None:
    delivery = Delivery("1234567890123", 1, "2023-02-24T09:00:00.123456Z", {})
    redelivery = Delivery("1234567890123", 4, "2023-02-24T09:00:00.123456Z", {})
    first = run_id_for(delivery, datetime(2023, 2, 24, 9, 0, 1, tzinfo=UTC))
    again = run_id_for(redelivery, datetime(2023, 2, 24, 9, 10, tzinfo=UTC))
    assert first == again == "r20230224T090000123456Z-m1234567890123"
    # Valid as a message run_id, and another message gives another run.
    assert ProcessDate(run_id=first, game_date=d("2023-02-23")).run_id == first
    other = Delivery("1234567890124", 1, "2023-02-24T09:00:00.123456Z", {})
    assert run_id_for(other, datetime.now(UTC)) != first
    # Sortable by publish time.
    later = Delivery("1", 1, "2023-02-24T09:00:01Z", {})
    assert run_id_for(later, datetime.now(UTC)) > first


def test_run_id_without_delivery_facts_is_fresh_and_sortable() -> None:
    now = datetime(2023, 2, 24, 9, 0, tzinfo=UTC)
    a, b = run_id_for(NO_DELIVERY, now), run_id_for(NO_DELIVERY, now)
    assert a != b
    assert a.startswith("r20230224T090000000000Z-")
    assert run_id_for(NO_DELIVERY, now + timedelta(seconds=1)) > max(a, b)


class FlakyPublisher(Publisher):
    """Our bus port around the local bus: the first publish to ``fail_topic`` raises."""

    def __init__(self, inner: Any, fail_topic: str) -> None:
        self.inner = inner
        self.fail_topic = fail_topic
        self.failed = False

    def publish(
        self, topic_key: str, message: Message, attributes: Mapping[str, str] | None = None
    ) -> str:
        if topic_key == self.fail_topic and not self.failed:
            self.failed = True
            raise ConnectionError("publish timed out")
        return str(self.inner.publish(topic_key, message, attributes))

    def close(self) -> None:
        self.inner.close()


def test_redelivered_request_keeps_its_run_id(app: App) -> None:
    seed_mini_season(app)
    inner = local_bus(app)
    app.bus = FlakyPublisher(inner, "process_date")  # the wired handlers use this app
    req = BackfillRequest(start_date=d("2023-01-15"), end_date=d("2023-01-17"), requested_by="t")

    app.bus.publish("backfill_requests", req)
    assert inner.drain(timeout=60)

    (request,) = [p for p in inner.published if p.topic_key == "backfill_requests"]
    assert request.attempts == 2  # the first dispatch raised after queueing the ledger
    rows = all_ledger_rows(app)
    assert len({r["run_id"] for r in rows}) == 1, "a redelivery must not start a second run"
    assert [r["status"] for r in rows] == ["succeeded"] * 3
    assert {m.run_id for m in process_messages(inner)} == {rows[0]["run_id"]}


# -- dispatch on a small season -----------------------------------------------------------------
def plan_of(result: Any) -> dict[date, tuple[str, str | None]]:
    return {line.game_date: (line.action, line.planned_source) for line in result.lines}


def test_dry_run_sends_nothing_and_writes_nothing(app: App) -> None:
    seed_mini_season(app)
    trips = app.warehouse.round_trips
    req = BackfillRequest(start_date=d("2023-01-13"), end_date=d("2023-01-22"), dry_run=True)
    result = dispatch_backfill(app, req, NO_DELIVERY)

    assert result.dry_run
    assert result.sent == [d(f"2023-01-{n}") for n in (15, 16, 17, 18, 19, 22)]
    plan = plan_of(result)
    assert plan[d("2023-01-13")] == ("skipped_bootstrap", None)
    assert plan[d("2023-01-14")] == ("skipped_bootstrap", None)
    assert plan[d("2023-01-15")] == ("send", "PGS_SYNTHETIC")  # no UPCG at all → fallback
    assert plan[d("2023-01-20")] == ("skipped_no_games", None)
    assert plan[d("2023-01-21")] == ("skipped_no_games", None)
    line = result.lines[2]
    assert (line.expected_players, line.upcg_players) == (PLAYERS, 0)
    # One grouped plan query and one ledger query: nothing written, nothing published.
    assert app.warehouse.round_trips - trips == 2
    assert local_bus(app).drain(timeout=10)
    assert local_bus(app).published == []
    assert all_ledger_rows(app) == []


@pytest.mark.parametrize(
    ("chunk_size", "chunks"),
    [
        (1, [[15], [16], [17], [18], [19], [22]]),
        (4, [[15, 16, 17, 18], [19, 22]]),
        (None, [[15, 16, 17, 18, 19, 22]]),  # the setting (50) holds them all
    ],
)
def test_dispatch_queues_then_sends_chunks_of_game_dates(
    app: App, chunk_size: int | None, chunks: list[list[int]]
) -> None:
    seed_mini_season(app)
    req = BackfillRequest(
        start_date=d("2023-01-13"),
        end_date=d("2023-01-22"),
        run_id="run-1",
        requested_by="bob",
        chunk_size=chunk_size,
    )
    result = dispatch_backfill(app, req, NO_DELIVERY)
    assert local_bus(app).drain(timeout=60)

    sent = sorted(m.dates for m in process_messages(app.bus))
    assert sent == [[d(f"2023-01-{n}") for n in chunk] for chunk in chunks]
    assert [x for chunk in sent for x in chunk] == result.sent
    assert {m.run_id for m in process_messages(app.bus)} == {"run-1"}
    rows = {r["game_date"]: r for r in all_ledger_rows(app)}
    # Bootstrap dates are recorded, off-days are only listed in the plan.
    assert rows[d("2023-01-13")]["status"] == "skipped_bootstrap"
    assert d("2023-01-20") not in rows
    assert {rows[x]["status"] for x in result.sent} == {"succeeded"}
    assert {rows[x]["requested_by"] for x in result.sent} == {"bob"}
    assert {rows[x]["actual_players"] for x in result.sent} == {PLAYERS}


def test_explicit_list_goes_through_the_same_gates(app: App) -> None:
    seed_mini_season(app)
    dispatch_backfill(app, BackfillRequest(dates=[d("2023-01-16")], run_id="first"), NO_DELIVERY)
    assert local_bus(app).drain(timeout=60)
    done = ledger.latest_by_date(app.warehouse, d("2023-01-16"), d("2023-01-16"))
    assert done[d("2023-01-16")]["status"] == "succeeded"

    picked = [d("2023-01-22"), d("2023-01-20"), d("2023-01-16"), d("2023-01-05"), d("2023-01-15")]
    listed = dispatch_backfill(app, BackfillRequest(dates=picked, dry_run=True), NO_DELIVERY)
    ranged = dispatch_backfill(
        app,
        BackfillRequest(start_date=d("2023-01-05"), end_date=d("2023-01-22"), dry_run=True),
        NO_DELIVERY,
    )
    expected = {
        d("2023-01-05"): ("skipped_bootstrap", None),
        d("2023-01-15"): ("send", "PGS_SYNTHETIC"),
        d("2023-01-16"): ("skipped_rerun", "PGS_SYNTHETIC"),  # already checkpointed
        d("2023-01-20"): ("skipped_no_games", None),
        d("2023-01-22"): ("send", "PGS_SYNTHETIC"),
    }
    assert plan_of(listed) == expected
    assert {k: v for k, v in plan_of(ranged).items() if k in expected} == expected
    assert [line.game_date for line in listed.lines] == sorted(picked)
    with pytest.raises(RequestError, match="in the future"):
        dispatch_backfill(
            app, BackfillRequest(dates=[d("2023-01-16"), d("2999-01-01")]), NO_DELIVERY
        )


# -- malformed requests through the runner ------------------------------------------------------
def body(data: bytes | str, message_id: str = "bad-1") -> dict[str, Any]:
    raw = data if isinstance(data, str) else base64.b64encode(data).decode("ascii")
    return {
        "message": {"data": raw, "messageId": message_id, "publishTime": "2023-02-24T09:00:00Z"}
    }


def _json(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj).encode()


MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("bad base64", body("%%%not-base64%%%"), "not valid base64"),
    ("bad json", body(b'{"start_date": "2023-02-23",'), "not JSON"),
    (
        "unknown field",
        body(_json({"start_date": "2023-02-23", "end_date": "2023-02-24", "priority": "high"})),
        "priority",
    ),
    (
        "impossible date",
        body(_json({"start_date": "2023-02-23", "end_date": "2023-02-30"})),
        "impossible date '2023-02-30'",
    ),
    (
        "force without reason",
        body(_json({"dates": ["2023-02-23"], "force": True})),
        "force requires a non-empty force_reason",
    ),
    (
        "end before start",
        body(_json({"start_date": "2023-02-24", "end_date": "2023-02-23"})),
        "is before start_date",
    ),
]


@pytest.mark.parametrize(
    ("payload", "error"), [(b, e) for _, b, e in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_request_is_acked_logged_and_alerted(
    app: App, logs: Any, payload: dict[str, Any], error: str
) -> None:
    from shared.usecases.dispatch_backfill import dispatch_backfill as use_case

    seed_mini_season(app)
    run(payload, BackfillRequest, use_case, app=app)  # acknowledged (no exception)
    assert local_bus(app).drain(timeout=10)

    (record,) = logs.find("ERROR", "rejected malformed BackfillRequest")
    assert error in record["message"]
    assert record["message_id"] == "bad-1"
    published = local_bus(app).published
    assert [p.topic_key for p in published] == ["alerts"]
    alert = published[0].message
    assert isinstance(alert, Alert)
    assert alert.kind == "bad_message"
    assert alert.details["message_id"] == "bad-1"
    assert error in alert.details["error"]
    assert all_ledger_rows(app) == []


def test_request_beyond_the_limits_is_acked_and_sends_nothing(app: App, logs: Any) -> None:
    from shared.usecases.dispatch_backfill import dispatch_backfill as use_case

    seed_mini_season(app)
    future = (et_today(datetime.now(UTC)) + timedelta(days=3)).isoformat()
    cases: Iterable[dict[str, Any]] = [
        {"start_date": "2021-01-01", "end_date": "2022-02-05"},  # 401 dates
        {"dates": ["2023-01-16", future]},
    ]
    for n, obj in enumerate(cases):
        run(body(_json(obj), f"m{n}"), BackfillRequest, use_case, app=app)  # acknowledged
    assert local_bus(app).drain(timeout=10)
    failures = logs.find("ERROR", "BackfillRequest failed permanently")
    assert len(failures) == 2
    assert "at most 400" in failures[0]["message"]
    assert f"{future} is in the future" in failures[1]["message"]
    assert process_messages(app.bus) == []
    assert all_ledger_rows(app) == []
    alerts = [m for m in local_bus(app).messages("alerts") if isinstance(m, Alert)]
    assert [a.kind for a in alerts] == ["dispatch_failed", "dispatch_failed"]
    assert "at most 400" in alerts[0].summary


# -- dispatch time, stalled dates and rerun=failed ----------------------------------------------
def test_the_dispatch_time_travels_in_every_message_and_ledger_row(app: App) -> None:
    seed_mini_season(app)
    delivery = Delivery("m-9", 1, "2023-02-24T09:00:00.250Z", {})
    result = dispatch_backfill(
        app, BackfillRequest(start_date=d("2023-01-15"), end_date=d("2023-01-17")), delivery
    )
    assert local_bus(app).drain(timeout=60)
    at = datetime(2023, 2, 24, 9, 0, 0, 250000, tzinfo=UTC)
    assert result.dispatched_at == at
    assert {m.dispatched_at for m in process_messages(app.bus)} == {at}
    handoffs = local_bus(app).messages("validate_coverage")
    assert {m.dispatched_at for m in handoffs} == {at}  # type: ignore[attr-defined]
    assert {r["dispatched_at"] for r in all_ledger_rows(app)} == {at}


def test_rerun_failed_selects_blocked_failed_and_stalled_dates(app: App) -> None:
    from shared.rules.planning import reported_statuses
    from shared.usecases.ledger import LedgerUpdate

    seed_mini_season(app)
    days = [d("2023-01-15"), d("2023-01-16"), d("2023-01-17"), d("2023-01-18"), d("2023-01-19")]
    for day, status in zip(
        days, ["blocked", "failed", "processing", "succeeded", "queued"], strict=True
    ):
        ledger.record(
            app.warehouse,
            LedgerUpdate(
                run_id="old",
                game_date=day,
                status=status,
                calculation_version=app.settings.calculation_version,
            ),
        )
    latest = ledger.latest_by_date(app.warehouse, days[0], days[-1])
    later = datetime.now(UTC) + timedelta(minutes=31)
    # Within the lease the in-flight dates are still in flight; after it they are stalled.
    assert reported_statuses(latest, datetime.now(UTC), 30)[days[2]] == "processing"
    assert reported_statuses(latest, later, 30) == {
        days[0]: "blocked",
        days[1]: "failed",
        days[2]: "stalled",
        days[3]: "succeeded",
        days[4]: "stalled",
    }
    req = BackfillRequest(start_date=days[0], end_date=days[-1], rerun="failed", dry_run=True)
    now_plan = dispatch_backfill(app, req, NO_DELIVERY)
    assert now_plan.sent == days[:2]
    late = App(settings=app.settings, warehouse=app.warehouse, bus=app.bus, clock=lambda: later)
    late_plan = dispatch_backfill(late, req, NO_DELIVERY)
    assert late_plan.sent == [days[0], days[1], days[2], days[4]]
    skipped = {line.game_date: line.reason for line in late_plan.lines}
    assert "succeeded" in skipped[days[3]]


def test_a_superseded_row_never_becomes_the_dates_state(app: App) -> None:
    from shared.usecases.ledger import LedgerUpdate

    day = d("2023-01-16")
    t0 = datetime(2023, 2, 1, tzinfo=UTC)
    ledger.record(
        app.warehouse,
        LedgerUpdate(run_id="new", game_date=day, status="succeeded", dispatched_at=t0),
    )
    # The older run's late message is recorded afterwards (newer updated_at).
    ledger.record(
        app.warehouse,
        LedgerUpdate(
            run_id="old", game_date=day, status="superseded", dispatched_at=t0 - timedelta(1)
        ),
    )
    latest = ledger.latest_by_date(app.warehouse, day, day)[day]
    assert (latest["run_id"], latest["status"]) == ("new", "succeeded")
