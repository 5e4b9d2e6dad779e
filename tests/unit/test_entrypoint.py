"""Ack vs retry: malformed messages are logged at ERROR and acknowledged, never raised."""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from shared.app import App
from shared.entrypoint import Delivery, run
from shared.errors import PermanentError, TransientError
from shared.messages import Alert, ProcessDate, parse_payload
from tests.fakes import published_alerts


def push_body(data: bytes, message_id: str = "m-1") -> dict[str, Any]:
    """A Pub/Sub push body as functions-framework hands it to a CloudEvent function."""
    return {
        "message": {
            "data": base64.b64encode(data).decode("ascii"),
            "attributes": {},
            "messageId": message_id,
            "publishTime": "2023-02-24T09:00:00Z",
        },
        "subscription": "projects/p/subscriptions/s",
    }


def cloud_event(body: dict[str, Any]) -> CloudEvent:
    """Wrap a push body as the CloudEvent functions-framework builds."""
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/p/topics/pcf-process-date",
        },
        body,
    )


BAD_MESSAGES = {
    "bad base64": {"message": {"data": "***not base64***", "messageId": "m-1"}},
    "bad json": push_body(b"{not json"),
    "not an object": push_body(b"[1, 2]"),
    "unknown field": push_body(b'{"run_id": "r1", "game_date": "2023-02-23", "colour": "red"}'),
    "impossible date": push_body(b'{"run_id": "r1", "game_date": "2023-02-30"}'),
    "datetime for date": push_body(b'{"run_id": "r1", "game_date": "2023-02-23T10:00:00"}'),
    "force without reason": push_body(
        b'{"run_id": "r1", "game_date": "2023-02-23", "force": true}'
    ),
    "not utf-8": push_body(b"\xff\xfe\xfa"),
    "no message": {"subscription": "s"},
}


@pytest.mark.parametrize("name", sorted(BAD_MESSAGES))
def test_malformed_message_is_logged_and_acknowledged(app: App, logs: Any, name: str) -> None:
    calls: list[ProcessDate] = []

    def use_case(_app: App, msg: ProcessDate, _delivery: Delivery) -> None:
        calls.append(msg)

    run(cloud_event(BAD_MESSAGES[name]), ProcessDate, use_case, app=app)  # must not raise
    assert calls == []
    errors = logs.find("ERROR", "rejected malformed ProcessDate")
    assert len(errors) == 1
    if name != "bad base64" and name != "no message":
        assert errors[0]["message_id"] == "m-1"
    alerts = published_alerts(app)
    assert [a.kind for a in alerts] == ["bad_message"]


def test_valid_message_reaches_the_use_case_with_delivery_facts(app: App) -> None:
    seen: list[tuple[ProcessDate, Delivery]] = []
    body = push_body(b'{"run_id": "r1", "game_date": "2023-02-23", "source": "upcg"}', "m-9")
    body["deliveryAttempt"] = 3
    run(cloud_event(body), ProcessDate, lambda _app, m, d: seen.append((m, d)), app=app)
    msg, delivery = seen[0]
    assert msg.game_date == date(2023, 2, 23)
    assert msg.source == "upcg"
    assert delivery.message_id == "m-9"
    assert delivery.attempt == 3


def test_transient_failure_raises_for_redelivery(app: App, logs: Any) -> None:
    def flaky(_app: App, _msg: ProcessDate, _delivery: Delivery) -> None:
        raise TransientError("503 backend error")

    with pytest.raises(TransientError):
        run(
            cloud_event(push_body(b'{"run_id": "r1", "game_date": "2023-02-23"}')),
            ProcessDate,
            flaky,
            app=app,
        )
    assert logs.find("WARNING", "will be redelivered")


def test_unexpected_failure_raises_and_permanent_failure_acks(app: App, logs: Any) -> None:
    body = push_body(b'{"run_id": "r1", "game_date": "2023-02-23"}')

    def boom(_app: App, _msg: ProcessDate, _delivery: Delivery) -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run(cloud_event(body), ProcessDate, boom, app=app)

    def permanent(_app: App, _msg: ProcessDate, _delivery: Delivery) -> None:
        raise PermanentError("table nba_x.y not found")

    run(cloud_event(body), ProcessDate, permanent, app=app)
    record = logs.find("ERROR", "failed permanently")[0]
    assert record["run_id"] == "r1"
    assert record["game_date"] == "2023-02-23"


def test_payload_round_trip_and_strict_dates() -> None:
    msg = ProcessDate(run_id="r1", game_date=date(2023, 2, 23), force=True, force_reason="why")
    assert parse_payload(ProcessDate, msg.to_bytes()) == msg
    alert = Alert(kind="coverage_blocked", summary="x")
    assert json.loads(alert.to_bytes())["kind"] == "coverage_blocked"
