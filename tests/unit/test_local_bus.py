"""The in-process bus keeps Pub/Sub's delivery semantics: redelivery, dead-letter, drain."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from shared.messages import Alert, ProcessDate
from shared.tools.local_bus import LocalBus


@pytest.fixture
def bus() -> Iterator[LocalBus]:
    b = LocalBus(workers=2, min_backoff_s=0.001, max_backoff_s=0.005)
    yield b
    b.close()


def _msg(day: int = 23) -> ProcessDate:
    return ProcessDate(run_id="r-test", game_date=date(2023, 2, day))


def _payload(body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.b64decode(body["message"]["data"]))
    return data


def test_raise_means_redelivery_with_attempts_counted(bus: LocalBus) -> None:
    seen: list[tuple[int, str, str]] = []

    def flaky(body: dict[str, Any]) -> None:
        seen.append(
            (body["deliveryAttempt"], body["message"]["messageId"], body["message"]["publishTime"])
        )
        if len(seen) < 3:
            raise RuntimeError(f"boom {len(seen)}")

    bus.subscribe("process_date", flaky)
    message_id = bus.publish("process_date", _msg(), {"game_date": "2023-02-23"})
    assert bus.drain(timeout=10)

    (item,) = bus.published
    assert item.message_id == message_id
    assert item.attempts == 3
    assert item.errors == ["RuntimeError: boom 1", "RuntimeError: boom 2"]
    assert not item.dead_lettered
    assert bus.dead_letters() == []
    # Pub/Sub numbers deliveries 1, 2, 3 and keeps the message id and publish time.
    assert [s[0] for s in seen] == [1, 2, 3]
    assert {s[1] for s in seen} == {message_id}
    assert len({s[2] for s in seen}) == 1
    assert item.attributes == {"type": "ProcessDate", "game_date": "2023-02-23"}
    assert bus.completed["process_date"] == 1


def test_payload_round_trips_the_message(bus: LocalBus) -> None:
    bodies: list[dict[str, Any]] = []
    bus.subscribe("process_date", bodies.append)
    bus.publish("process_date", _msg(24))
    assert bus.drain(timeout=10)
    assert _payload(bodies[0]) == {
        "run_id": "r-test",
        "game_date": "2023-02-24",
        "mode": "backfill",
        "source": "auto",
        "force": False,
    }
    assert bodies[0]["subscription"] == "local/process_date"


def test_dead_letter_after_five_attempts(bus: LocalBus, logs: Any) -> None:
    calls: list[int] = []

    def always_fails(body: dict[str, Any]) -> None:
        calls.append(body["deliveryAttempt"])
        raise ValueError("never works")

    bus.subscribe("validate_coverage", always_fails)
    bus.publish("validate_coverage", _msg())
    assert bus.drain(timeout=10)

    assert calls == [1, 2, 3, 4, 5]
    (dead,) = bus.dead_letters()
    assert dead.attempts == 5
    assert dead.dead_lettered
    assert len(dead.errors) == 5
    assert bus.completed["validate_coverage"] == 1
    (record,) = logs.find("ERROR", "dead-lettered after 5 attempts")
    assert record["topic"] == "validate_coverage"
    assert record["message_id"] == dead.message_id


def test_a_dead_letter_is_forwarded_to_the_dlq_topic_like_pubsub(bus: LocalBus) -> None:
    dlq: list[dict[str, Any]] = []

    def always_fails(_body: dict[str, Any]) -> None:
        raise ValueError("never works")

    def dlq_consumer(body: dict[str, Any]) -> None:
        dlq.append(body)
        raise RuntimeError("the DLQ consumer fails too")  # a DLQ has no DLQ of its own

    bus.subscribe("process_date", always_fails)
    bus.subscribe("process_date-dlq", dlq_consumer)
    bus.publish("process_date", _msg(), {"run_id": "r-test"})
    assert bus.drain(timeout=10)

    # Same payload and attributes, plus Pub/Sub's dead-letter attributes; retried like any
    # subscription, then dropped (logged) instead of forwarded again.
    assert len(dlq) == 5
    assert _payload(dlq[0]) == json.loads(_msg().to_bytes())
    attributes = dlq[0]["message"]["attributes"]
    assert attributes["type"] == "ProcessDate"
    assert attributes["run_id"] == "r-test"
    assert attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert [p.topic_key for p in bus.published] == ["process_date", "process_date-dlq"]
    assert [d.topic_key for d in bus.dead_letters()] == ["process_date", "process_date-dlq"]


def test_max_delivery_attempts_is_honoured() -> None:
    b = LocalBus(workers=1, max_delivery_attempts=2, min_backoff_s=0.001)
    calls: list[int] = []

    def fails(body: dict[str, Any]) -> None:
        calls.append(body["deliveryAttempt"])
        raise RuntimeError("x")

    b.subscribe("t", fails)
    b.publish("t", _msg())
    assert b.drain(timeout=10)
    b.close()
    assert calls == [1, 2]
    assert [d.attempts for d in b.dead_letters()] == [2]


def test_drain_waits_for_cascades(bus: LocalBus) -> None:
    release = threading.Event()
    done: list[str] = []

    def first(_body: dict[str, Any]) -> None:
        bus.publish("validate_coverage", _msg(24))

    def second(_body: dict[str, Any]) -> None:
        # Blocks until the test lets it go: drain must not return while this is pending.
        assert release.wait(timeout=30)
        bus.publish("alerts", Alert(kind="coverage_blocked", summary="low"))
        bus.publish("third", _msg(25))

    def third(body: dict[str, Any]) -> None:
        done.append(_payload(body)["game_date"])

    bus.subscribe("process_date", first)
    bus.subscribe("validate_coverage", second)
    bus.subscribe("third", third)
    bus.publish("process_date", _msg(23))

    assert bus.drain(timeout=0.05) is False  # the cascade is still blocked in `second`
    assert done == []
    release.set()
    assert bus.drain(timeout=10) is True
    assert done == ["2023-02-25"]
    assert [p.topic_key for p in bus.published] == [
        "process_date",
        "validate_coverage",
        "alerts",
        "third",
    ]
    # Only subscribed topics are delivered (and counted); alerts is recorded only.
    assert bus.completed == {"process_date": 1, "validate_coverage": 1, "third": 1}
    assert [a.kind for a in bus.messages("alerts") if isinstance(a, Alert)] == ["coverage_blocked"]


def test_completed_counts_every_finished_delivery(bus: LocalBus) -> None:
    def ok(body: dict[str, Any]) -> None:
        if _payload(body)["game_date"] == "2023-02-24":
            raise RuntimeError("dead")

    bus.subscribe("process_date", ok)
    for day in (23, 24, 25, 26):
        bus.publish("process_date", _msg(day))
    assert bus.drain(timeout=10)
    # Four messages finished (one of them by dead-lettering), however many attempts it took.
    assert bus.completed["process_date"] == 4
    assert sum(p.attempts for p in bus.published) == 3 + 5
    (dead,) = bus.dead_letters()
    assert isinstance(dead.message, ProcessDate)
    assert dead.message.game_date.day == 24


def test_unsubscribed_topic_is_recorded_not_delivered(bus: LocalBus) -> None:
    bus.publish("alerts", Alert(kind="bad_message", summary="x"))
    assert bus.drain(timeout=1)
    assert len(bus.messages("alerts")) == 1
    assert bus.published[0].attempts == 0
    assert bus.completed == {}
