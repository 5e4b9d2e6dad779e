"""A plain Pub/Sub push subscription (what pubsub.tf declares) gives the function the same event.

Terraform invokes each function through its own push subscription (wrapped body, push endpoint
<service uri>/projects/<p>/topics/<topic>) instead of an Eventarc trigger. functions-framework
converts that raw push body into a google.cloud.pubsub.topic.v1.messagePublished CloudEvent;
this test serves a cloud_event function with functions-framework's own app and checks the
function sees the same envelope (data, attributes, messageId, publishTime) and source as with an
Eventarc-style binary CloudEvent. Known difference: functions-framework drops the push body's
``deliveryAttempt`` (only logged by the runner, never used for a decision).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from shared.messages import envelope_from_cloud_event

TARGET = """
import json
import os

import functions_framework


@functions_framework.cloud_event
def handle(cloud_event):
    event = {k: cloud_event[k] for k in ("type", "source", "id")}
    with open(os.environ["PUSH_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({**event, "data": cloud_event.data}) + "\\n")
"""

PROJECT, TOPIC = "pcf-test", "pcf-process-date"
PAYLOAD = {"game_date": "2023-02-23", "run_id": "run-1"}
MESSAGE = {
    "data": base64.b64encode(json.dumps(PAYLOAD).encode()).decode(),
    "attributes": {"run_id": "run-1"},
    "messageId": "4711",
    "publishTime": "2023-02-24T09:00:00.000Z",
}


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path]:
    functions_framework = pytest.importorskip("functions_framework")
    source = tmp_path / "main.py"
    source.write_text(TARGET, encoding="utf-8")
    log = tmp_path / "events.jsonl"
    monkeypatch.setenv("PUSH_LOG", str(log))
    app = functions_framework.create_app(
        target="handle", source=str(source), signature_type="cloudevent"
    )
    return app.test_client(), log


def test_raw_push_body_becomes_the_same_cloud_event(served: tuple[Any, Path]) -> None:
    client, log = served
    push_body = {
        "message": MESSAGE,
        "subscription": f"projects/{PROJECT}/subscriptions/{TOPIC}-to-process-date",
        "deliveryAttempt": 3,
    }
    response = client.post(
        f"/projects/{PROJECT}/topics/{TOPIC}",
        data=json.dumps(push_body),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.data
    eventarc_body = {"message": MESSAGE, "subscription": push_body["subscription"]}
    response = client.post(
        "/",
        data=json.dumps(eventarc_body),
        headers={
            "Content-Type": "application/json",
            "ce-id": MESSAGE["messageId"],
            "ce-specversion": "1.0",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "ce-source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/{TOPIC}",
        },
    )
    assert response.status_code == 200, response.data
    pushed, eventarc = (json.loads(line) for line in log.read_text(encoding="utf-8").splitlines())

    assert pushed["type"] == eventarc["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert pushed["source"] == eventarc["source"]  # the push endpoint's path names the topic
    assert pushed["id"] == eventarc["id"] == "4711"
    a, b = envelope_from_cloud_event(pushed["data"]), envelope_from_cloud_event(eventarc["data"])
    assert json.loads(a.data) == json.loads(b.data) == PAYLOAD
    assert a.attributes == b.attributes == {"run_id": "run-1"}
    assert a.message_id == b.message_id == "4711"
    assert a.publish_time == b.publish_time == MESSAGE["publishTime"]
    assert a.delivery_attempt is None  # dropped by functions-framework's conversion (see above)
