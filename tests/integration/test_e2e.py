"""End to end over real push: Pub/Sub emulator → functions-framework servers → bqemulator.

The real 2022-23 season is seeded into the datasets the function servers read, with the
incident's stale UPCG (2023-02-23 keeps 1 of 187 players, 2023-02-24 68 of 175). Messages are
published to the emulator exactly as a producer would; every step after that is the deployed
code path: push → functions-framework → shared.entrypoint → use case → BigQuery client.

The checks that must outlast the retry window (a malformed message is not redelivered, a
failing one is dead-lettered after 5 attempts, ~60 s with the topology backoff) are published
first by a module fixture, so that window passes while the backfill tests run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from google.api_core.exceptions import NotFound

from shared.app import App
from shared.clock import et_today
from shared.entrypoint import Delivery
from shared.messages import BackfillRequest, ProcessDate
from shared.rules import statuses
from shared.sql import explain as explain_sql
from shared.sql import ledger as ledger_sql
from shared.tools.seed.load import inject_stale_upcg, seed
from shared.tools.stack import PubSubPlan, SubscriptionInfo, provision_pubsub, push_endpoint
from shared.topology import load_topology
from shared.usecases.dispatch_backfill import dispatch_backfill
from shared.warehouse import Sql
from tests.fakes import local_bus
from tests.integration.stack_helpers import (
    ExtraFunction,
    PullSink,
    Stack,
    payload,
    read_log,
    run_ledger,
    wait_for,
)
from tests.season_facts import END, EXPECTED, INCIDENT, NEXT, OFF_DAYS, STALE, START

pytestmark = [pytest.mark.stack, pytest.mark.realdata]

# Fault injection works on dates outside the backfill range, so the range stays comparable.
TRANSIENT_DATE, DOOMED_DATE = date(2023, 3, 10), date(2023, 3, 11)
DEAD_LETTER_DATE = date(2023, 2, 8)  # 5 transient failures → the real process_date DLQ
FINAL = {*statuses.FINAL_OK, *statuses.RETRYABLE}
NO_DELIVERY = Delivery(message_id=None, attempt=None, publish_time=None, attributes={})
BACKFILL_TIMEOUT = 240.0
RETRY_WINDOW_TIMEOUT = 200.0

PCF_RANGE = Sql(
    "e2e.pcf_range",
    "SELECT * FROM {player_composite_factors} WHERE game_date BETWEEN @a AND @b"
    " ORDER BY game_date, player_lookup",
    {"a": "DATE", "b": "DATE"},
)
PCF_COUNTS = Sql(
    "e2e.pcf_counts",
    "SELECT game_date, COUNT(*) AS n_rows, COUNT(DISTINCT player_lookup) AS n_players"
    " FROM {player_composite_factors} WHERE game_date BETWEEN @a AND @b GROUP BY game_date",
    {"a": "DATE", "b": "DATE"},
)
PGS_PLAYERS = Sql(
    "e2e.pgs_players",
    "SELECT COUNT(DISTINCT player_lookup) AS n FROM {player_game_summary} WHERE game_date = @d",
    {"d": "DATE"},
)
CLEANUP_SINCE = Sql(
    "e2e.cleanup_since",
    "SELECT * FROM {cleanup_runs} WHERE run_date BETWEEN @a AND @b AND started_at >= @since"
    " ORDER BY table_name",
    {"a": "DATE", "b": "DATE", "since": "TIMESTAMP"},
)
TABLE_ROWS = Sql("e2e.table_rows", "SELECT COUNT(*) AS n FROM {target}")


def content(rows: list[dict[str, Any]]) -> dict[tuple[date, str], dict[str, Any]]:
    """Rows by (game_date, player) without what differs between runs; no duplicate keys."""
    out = {
        (r["game_date"], r["player_lookup"]): {
            k: (float(v) if isinstance(v, Decimal) else v)
            for k, v in r.items()
            if k not in ("run_id", "processed_at")
        }
        for r in rows
    }
    assert len(out) == len(rows), "duplicate (game_date, player_lookup) rows"
    return out


def records(path: Path, **match: Any) -> list[dict[str, Any]]:
    """Log records of a server whose fields equal ``match``."""
    return [r for r in read_log(path) if all(r.get(k) == v for k, v in match.items())]


def wait_until_final(
    app: App, run_id: str, start: date, end: date, dates: int, attempts: int = 1
) -> dict[date, dict[str, Any]]:
    """Poll the ledger until ``dates`` dates of the run are final with ``attempts`` attempts."""

    def done() -> dict[date, dict[str, Any]] | None:
        rows = run_ledger(app, run_id, start, end)
        finished = {
            d: r
            for d, r in rows.items()
            if r["status"] in FINAL and (r["attempts"] or 0) >= attempts
        }
        return rows if len(rows) == dates and len(finished) == dates else None

    result: dict[date, dict[str, Any]] = wait_for(
        done, timeout=BACKFILL_TIMEOUT, what=f"{dates} final ledger dates of {run_id}", every=0.5
    )
    return result


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def season(pipeline_app: App, real_data_dir: Path) -> App:
    """The real season and the incident's stale UPCG, where the function servers read."""
    result = seed(pipeline_app, real_data_dir, STALE)
    assert result.stale == {INCIDENT: (187, 1), NEXT: (175, 68)}
    return pipeline_app


@pytest.fixture(scope="module")
def alerts(stack: Stack) -> Iterator[PullSink]:
    """Every alert published while this module runs."""
    s = stack.sink(stack.topic("alerts"))
    yield s
    s.close()


@dataclass
class Probes:
    """Messages published at module start whose outcome needs the retry window to pass."""

    malformed_id: str
    malformed_data: bytes
    process_dlq: PullSink
    doomed_id: str
    doomed_key: str
    doomed_run: str
    doomed_data: bytes
    published_at: float
    dead_run: str
    dead_topic: str


@pytest.fixture(scope="module", autouse=True)
def probes(
    stack: Stack,
    faults: ExtraFunction,
    alerts: PullSink,  # noqa: ARG001  (subscribed before the probes publish: their alerts count)
) -> Iterator[Probes]:
    """Publish the malformed and the always-failing message first (their clocks start now)."""
    process_dlq = stack.sink(stack.topic("process_date") + stack.topology.delivery.dlq_suffix)
    token = uuid.uuid4().hex[:10]
    malformed = json.dumps({"run_id": f"malformed-{token}", "game_date": "2023-02-30"}).encode()
    malformed_id = stack.publish(stack.topic("process_date"), malformed)
    doomed_run = f"doomed-{token}"
    doomed = ProcessDate(run_id=doomed_run, game_date=DOOMED_DATE, requested_by="e2e").to_bytes()
    # It fails on the plan query, right after the ledger counts the attempt: whatever the
    # warehouse holds yet (this runs before the season is seeded).
    doomed_id = stack.publish(
        faults.topic,
        doomed,
        pcf_test_fault="always",
        pcf_test_key=doomed_run,
        pcf_test_fail_at="processing.date_plan",
    )
    # The same 5 transient failures on a topic whose subscription dead-letters into the real
    # process_date DLQ: the stack's record_dead_letter function consumes it.
    dead_run = f"dead-{token}"
    dead_topic = f"pcf-test-dl-{token}"
    delivery = stack.topology.delivery
    push = SubscriptionInfo(
        name=f"{dead_topic}-push",
        topic=dead_topic,
        push_endpoint=push_endpoint("127.0.0.1", faults.port, stack.project, dead_topic),
        function="faults",
        dead_letter_topic=stack.topic("process_date") + delivery.dlq_suffix,
        max_delivery_attempts=delivery.max_delivery_attempts,
        minimum_backoff_seconds=delivery.minimum_backoff_seconds,
        maximum_backoff_seconds=delivery.maximum_backoff_seconds,
        ack_deadline_seconds=delivery.ack_deadline_seconds,
    )
    provision_pubsub(
        stack.info.pubsub_emulator_host,
        stack.project,
        PubSubPlan(topics=(dead_topic,), subscriptions=(push,)),
    )
    stack.publish(
        dead_topic,
        ProcessDate(run_id=dead_run, game_date=DEAD_LETTER_DATE, requested_by="e2e").to_bytes(),
        type="ProcessDate",
        pcf_test_fault="always",
        pcf_test_key=dead_run,
        pcf_test_fail_at="processing.date_plan",
    )
    yield Probes(
        malformed_id=malformed_id,
        malformed_data=malformed,
        process_dlq=process_dlq,
        doomed_id=doomed_id,
        doomed_key=doomed_run,
        doomed_run=doomed_run,
        doomed_data=doomed,
        published_at=time.time(),
        dead_run=dead_run,
        dead_topic=dead_topic,
    )
    process_dlq.close()
    with contextlib.suppress(NotFound):
        stack.subscriber.delete_subscription(
            request={"subscription": stack.subscription_path(push.name)}
        )
    with contextlib.suppress(NotFound):
        stack.publisher.delete_topic(request={"topic": stack.topic_path(dead_topic)})


@pytest.fixture(scope="module")
def dead_lettered(probes: Probes, faults: ExtraFunction) -> list[Any]:
    """Wait (bounded) until the always-failing message reaches its DLQ: the retry window is over."""
    return faults.dlq_sink.wait(
        lambda m: m.data == probes.doomed_data,
        timeout=RETRY_WINDOW_TIMEOUT,
        what="the always-failing message on the dead-letter topic",
    )


@dataclass
class Backfill:
    """The first backfill of the range through Pub/Sub."""

    run_id: str
    data: bytes
    message_id: str
    ledger: dict[date, dict[str, Any]]
    pcf: dict[tuple[date, str], dict[str, Any]]
    seconds: float


@pytest.fixture(scope="module")
def first_backfill(stack: Stack, season: App) -> Backfill:
    """Publish one BackfillRequest for the incident range and wait until every date is final.

    rerun=all so the run is the same whether or not this (reused, persistent) stack already
    checkpointed these dates in an earlier session; on a fresh warehouse it equals the default.
    """
    run_id = f"e2e-{uuid.uuid4().hex[:12]}"
    request = BackfillRequest(
        start_date=START, end_date=END, rerun="all", requested_by="e2e", run_id=run_id
    )
    started = time.monotonic()
    message_id = stack.publish(stack.topic("backfill_requests"), request.to_bytes())
    rows = wait_until_final(season, run_id, START, END, len(EXPECTED))
    seconds = time.monotonic() - started
    pcf = content(season.warehouse.query(PCF_RANGE, {"a": START, "b": END}))
    return Backfill(run_id, request.to_bytes(), message_id, rows, pcf, seconds)


# -- the incident range through real push ------------------------------------------------------


def test_backfill_over_pubsub_matches_the_embedded_run(
    stack: Stack, season: App, first_backfill: Backfill, real_app: App
) -> None:
    rows = first_backfill.ledger
    assert sorted(rows) == sorted(EXPECTED)  # off-days are not queued
    for day, expected in EXPECTED.items():
        row = rows[day]
        stale = STALE.get(day)
        assert row["status"] == "succeeded", day
        assert (row["expected_players"], row["actual_players"]) == (expected, expected), day
        assert row["upcg_players"] == (stale if stale is not None else expected), day
        assert row["coverage_pct"] == Decimal("100.0"), day
        assert row["data_source"] == ("PGS_SYNTHETIC" if stale is not None else "UPCG"), day
        assert (row["mode"], row["forced"], row["requested_by"]) == ("backfill", False, "e2e")
        assert row["attempts"] == 1, day
        assert row["calculation_version"] == "v1_4factors"
    assert (rows[INCIDENT]["actual_players"], rows[INCIDENT]["expected_players"]) == (187, 187)
    assert (rows[NEXT]["actual_players"], rows[NEXT]["expected_players"]) == (175, 175)

    # Off-days were planned as skipped and never sent to process_date.
    plans = [
        r
        for r in records(stack.function_log("dispatch_backfill"), run_id=first_backfill.run_id)
        if r["message"].startswith("backfill plan")
    ]
    assert len(plans) == 1
    assert (plans[0]["dates"], plans[0]["to_process"]) == (19, 13)
    assert plans[0]["skipped"] == {"skipped_no_games": len(OFF_DAYS)}
    processed = {
        r["game_date"]
        for r in records(stack.function_log("process_date"), run_id=first_backfill.run_id)
    }
    assert processed == {d.isoformat() for d in EXPECTED}

    counts = season.warehouse.query(PCF_COUNTS, {"a": START, "b": END})
    assert {r["game_date"]: (r["n_rows"], r["n_players"]) for r in counts} == {
        d: (n, n) for d, n in EXPECTED.items()
    }

    # The embedded default (DuckDB + in-process bus) on the same data gives the same ledger and
    # the same rows, value for value.
    inject_stale_upcg(real_app, STALE)
    embedded = dispatch_backfill(
        real_app,
        BackfillRequest(start_date=START, end_date=END, requested_by="e2e"),
        NO_DELIVERY,
    )
    assert local_bus(real_app).drain(timeout=300)
    local = run_ledger(real_app, embedded.run_id, START, END)
    fields = ("status", "expected_players", "upcg_players", "actual_players", "coverage_pct")
    assert {d: tuple(r[f] for f in (*fields, "data_source")) for d, r in local.items()} == {
        d: tuple(r[f] for f in (*fields, "data_source")) for d, r in rows.items()
    }
    assert content(real_app.warehouse.query(PCF_RANGE, {"a": START, "b": END})) == (
        first_backfill.pcf
    )


def test_the_same_message_published_twice_gives_identical_tables(
    stack: Stack, season: App, first_backfill: Backfill
) -> None:
    again = stack.publish(stack.topic("backfill_requests"), first_backfill.data)
    assert again != first_backfill.message_id
    # Same run id, rerun=all: every date is processed a second time (attempts 2).
    rows = wait_until_final(season, first_backfill.run_id, START, END, len(EXPECTED), attempts=2)
    assert {d: (r["status"], r["attempts"]) for d, r in rows.items()} == {
        d: ("succeeded", 2) for d in EXPECTED
    }
    # One state per (run, date), however many deliveries; the append-only ledger keeps every
    # step of both passes (the redelivered request queues nothing twice).
    states = season.warehouse.query(
        ledger_sql.RUN_ROWS, {"start_date": START, "end_date": END, "run_id": first_backfill.run_id}
    )
    assert [r["game_date"] for r in states] == sorted(EXPECTED)
    history: dict[date, list[tuple[str, int]]] = {}
    for r in season.warehouse.query(explain_sql.STEPS, {"start_date": START, "end_date": END}):
        if r["run_id"] == first_backfill.run_id:
            history.setdefault(r["game_date"], []).append((r["status"], r["attempts"]))
    assert history == {
        d: [
            ("queued", 0),
            ("processing", 1),
            ("written", 1),
            ("succeeded", 1),
            ("processing", 2),
            ("written", 2),
            ("succeeded", 2),
        ]
        for d in EXPECTED
    }

    assert content(season.warehouse.query(PCF_RANGE, {"a": START, "b": END})) == (
        first_backfill.pcf
    )
    counts = season.warehouse.query(PCF_COUNTS, {"a": START, "b": END})
    assert {r["game_date"]: (r["n_rows"], r["n_players"]) for r in counts} == {
        d: (n, n) for d, n in EXPECTED.items()
    }
    plans = [
        r
        for r in records(stack.function_log("dispatch_backfill"), run_id=first_backfill.run_id)
        if r["message"].startswith("backfill plan")
    ]
    assert len(plans) == 2


# -- failures: transient, permanent, dead-lettered ---------------------------------------------


def test_a_transient_failure_is_redelivered_and_completes(
    stack: Stack, season: App, faults: ExtraFunction
) -> None:
    run_id = f"transient-{uuid.uuid4().hex[:10]}"
    message = ProcessDate(run_id=run_id, game_date=TRANSIENT_DATE, requested_by="e2e")
    message_id = stack.publish(
        faults.topic, message.to_bytes(), pcf_test_fault="transient_once", pcf_test_key=run_id
    )
    rows = wait_until_final(season, run_id, TRANSIENT_DATE, TRANSIENT_DATE, 1)
    expected = season.warehouse.query(PGS_PLAYERS, {"d": TRANSIENT_DATE})[0]["n"]
    row = rows[TRANSIENT_DATE]
    # Both deliveries reached the use case (attempts counts them); the second one finished.
    assert (row["status"], row["attempts"], row["actual_players"]) == ("succeeded", 2, expected)
    deliveries = faults.deliveries(run_id)
    assert len(deliveries) == 2
    assert deliveries[1] > deliveries[0]
    warned = [
        r
        for r in records(faults.log, message_id=message_id)
        if r["severity"] == "WARNING" and "will be redelivered" in r["message"]
    ]
    assert len(warned) == 1
    assert "injected 503" in warned[0]["message"]
    counts = season.warehouse.query(PCF_COUNTS, {"a": TRANSIENT_DATE, "b": TRANSIENT_DATE})
    assert [(r["n_rows"], r["n_players"]) for r in counts] == [(expected, expected)]


def test_a_message_that_always_fails_is_dead_lettered_after_5_attempts(
    stack: Stack, season: App, faults: ExtraFunction, probes: Probes, dead_lettered: list[Any]
) -> None:
    delivery = stack.topology.delivery
    assert len(dead_lettered) == 1
    dead = dead_lettered[0]
    attributes = dict(dead.attributes)
    assert attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(
        delivery.max_delivery_attempts
    )
    assert attributes["CloudPubSubDeadLetterSourceSubscription"] == faults.push_subscription
    assert attributes["pcf_test_fault"] == "always"  # the original attributes travel along
    deliveries = faults.deliveries(probes.doomed_key)
    assert len(deliveries) == delivery.max_delivery_attempts
    # Redelivered with backoff. Gap: the emulator sends the first redelivery after ~1 s whatever
    # minimum_backoff says; the later ones respect it (measured 16-26 s with 10 s … 600 s).
    gaps = [b - a for a, b in itertools.pairwise(deliveries)]
    assert all(g >= delivery.minimum_backoff_seconds - 1 for g in gaps[1:]), gaps
    # Each attempt reached the use case and failed before any write: nothing was checkpointed.
    row = run_ledger(season, probes.doomed_run, DOOMED_DATE, DOOMED_DATE)[DOOMED_DATE]
    assert (row["status"], row["attempts"]) == ("processing", delivery.max_delivery_attempts)


@pytest.mark.usefixtures("dead_lettered")
def test_five_transient_failures_end_failed_by_the_dlq_consumer_then_rerun_failed(
    stack: Stack, season: App, probes: Probes, alerts: PullSink
) -> None:
    attempts = stack.topology.delivery.max_delivery_attempts

    def marked() -> dict[str, Any] | None:
        row = run_ledger(season, probes.dead_run, DEAD_LETTER_DATE, DEAD_LETTER_DATE)
        found = row.get(DEAD_LETTER_DATE)
        return found if found and found["status"] == "failed" else None

    row = wait_for(marked, timeout=RETRY_WINDOW_TIMEOUT, what="the DLQ consumer's failed row")
    assert row["error"] == f"dead-lettered after {attempts} attempts (ProcessDate)"
    assert row["attempts"] == attempts
    found = alerts.wait(
        lambda m: (
            payload(m).get("kind") == "dead_lettered"
            and payload(m).get("run_id") == probes.dead_run
        ),
        timeout=60,
        what="the dead_lettered alert",
    )
    assert payload(found[0])["details"]["attempts"] == attempts

    # The runbook: --rerun failed over the date sends it again, and it succeeds.
    run_id = f"e2e-rerun-{uuid.uuid4().hex[:8]}"
    request = BackfillRequest(
        dates=[DEAD_LETTER_DATE], rerun="failed", requested_by="e2e", run_id=run_id
    )
    stack.publish(stack.topic("backfill_requests"), request.to_bytes())
    final = wait_until_final(season, run_id, DEAD_LETTER_DATE, DEAD_LETTER_DATE, 1)
    assert final[DEAD_LETTER_DATE]["status"] == "succeeded"
    pgs = season.warehouse.query(PGS_PLAYERS, {"d": DEAD_LETTER_DATE})[0]["n"]
    assert final[DEAD_LETTER_DATE]["actual_players"] == pgs > 0


@pytest.mark.usefixtures("dead_lettered")
def test_a_malformed_message_is_acknowledged_once_and_logged_at_error(
    stack: Stack, probes: Probes, alerts: PullSink
) -> None:
    # dead_lettered: a message published after this one has used up all its attempts, so a
    # redelivery of this one would have happened by now.
    seen = records(stack.function_log("process_date"), message_id=probes.malformed_id)
    assert len(seen) == 1, seen
    assert seen[0]["severity"] == "ERROR"
    assert seen[0]["message"].startswith("rejected malformed ProcessDate message")
    assert "game_date" in seen[0]["error"]
    assert not [m for m in probes.process_dlq.poll() if m.data == probes.malformed_data]
    bad = [
        payload(m)
        for m in alerts.poll()
        if payload(m).get("kind") == "bad_message"
        and payload(m)["details"].get("message_id") == probes.malformed_id
    ]
    assert len(bad) == 1


# -- the scheduler's payload -------------------------------------------------------------------


def test_the_scheduler_payload_runs_the_cleanup(
    stack: Stack, season: App, alerts: PullSink
) -> None:
    body = load_topology().schedule["body"]
    assert body == {"trigger": "scheduled"}
    since = datetime.now(UTC) - timedelta(seconds=1)
    message_id = stack.publish(stack.topic("cleanup"), json.dumps(body).encode("utf-8"))
    today = et_today(datetime.now(UTC))
    window = {"a": today - timedelta(days=1), "b": today + timedelta(days=1), "since": since}
    tables = season.settings.cleanup_tables

    def recorded() -> list[dict[str, Any]] | None:
        rows = season.warehouse.query(CLEANUP_SINCE, window)
        return rows if len(rows) >= len(tables) else None

    runs = wait_for(recorded, timeout=60, what="a cleanup_runs row per table")
    assert [r["table_name"] for r in runs] == sorted(tables)
    assert len({r["cleanup_id"] for r in runs}) == 1
    # The seeded season is entirely older than the cutoff: the runaway guard refuses (>50 % of
    # the table) and nothing is deleted; the run is still recorded, one row per table.
    for r in runs:
        total = season.warehouse.query(TABLE_ROWS, target=season.warehouse.table(r["table_name"]))
        n = total[0]["n"]
        assert n > 0
        assert (r["status"], r["dry_run"], r["ttl_days"]) == ("refused", False, 7)
        assert r["cutoff_date"] == r["run_date"] - timedelta(days=7)
        assert (r["stale_rows"], r["rows_before"], r["rows_after"]) == (n, n, n)
        assert (r["deleted_rows"], r["backup_table"]) == (0, None)
    cleanup_id = runs[0]["cleanup_id"]
    started = records(stack.function_log("cleanup_upcoming"), cleanup_id=cleanup_id)
    assert any(
        r.get("trigger") == "scheduled" and r.get("message_id") == message_id for r in started
    )
    refused = wait_for(
        lambda: (
            (mine := [payload(m) for m in alerts.poll() if payload(m).get("run_id") == cleanup_id])
            and len(mine) >= len(tables)
            and mine
        ),
        timeout=30,
        what="a cleanup_refused alert per table",
    )
    assert sorted((a["kind"], a["table_name"]) for a in refused) == [
        ("cleanup_refused", t) for t in sorted(tables)
    ]
