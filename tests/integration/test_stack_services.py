"""The local emulator stack: services start, Pub/Sub is wired from topology.json, emulators answer.

Needs the gcloud Pub/Sub emulator (Java) and ``.venv-bqemu`` (requirements-bqemulator.txt).
Functions whose ``functions/<fn>/main.py`` does not exist yet are served by a stub.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared.config import REPO_ROOT, Settings
from shared.tools.stack import (
    StackConfig,
    StackError,
    StackInfo,
    down,
    load_stack_info,
    publisher_client,
    stack_env,
    status,
    subscriber_client,
    up,
)
from shared.tools.stack.process import free_port, is_alive, port_open
from shared.topology import load_topology

pytestmark = pytest.mark.stack

STUB_FUNCTION = """
import functions_framework


@functions_framework.cloud_event
def handle(cloud_event):
    return None
"""
TOPOLOGY = json.loads((REPO_ROOT / "infra" / "topology.json").read_text(encoding="utf-8"))


def wait_for(probe: Callable[[], Any], timeout: float = 60.0, every: float = 0.2) -> Any:
    """Return the first truthy ``probe()`` result, polling up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(every)


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[StackInfo]:
    stub = state_dir.parent / "stub_function.py"
    stub.write_text(STUB_FUNCTION, encoding="utf-8")
    sources = {
        name: stub
        for name in TOPOLOGY["functions"]
        if not (REPO_ROOT / "functions" / name / "main.py").is_file()
    }
    config = StackConfig(
        dynamic_ports=True,
        bigquery_persistent=False,
        function_sources=sources,
        startup_timeout=180,
    )
    info = up(state_dir, config)
    try:
        yield info
    finally:
        down(state_dir)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


def test_stack_json_records_every_service(stack: StackInfo, state_dir: Path) -> None:
    assert load_stack_info(state_dir) == stack
    names = {s.name for s in stack.services}
    assert names == {"pubsub", "bigquery"} | {f"fn-{fn}" for fn in TOPOLOGY["functions"]}
    assert all(row.alive for row in status(state_dir))
    for svc in stack.services:
        assert (state_dir / f"{svc.name}.pid").read_text().split()[0] == str(svc.pid)
        assert port_open(svc.port)(), svc
    env = stack_env(stack)
    assert env["PUBSUB_EMULATOR_HOST"] == f"127.0.0.1:{stack.service('pubsub').port}"
    assert env["PCF_BIGQUERY_API_ENDPOINT"] == f"http://127.0.0.1:{stack.service('bigquery').port}"
    assert env["PCF_BUS"] == "pubsub"
    assert env["PCF_WAREHOUSE"] == f"bigquery://{stack.project}"


def test_up_again_reuses_the_running_stack(stack: StackInfo, state_dir: Path) -> None:
    again = up(state_dir, StackConfig(dynamic_ports=True))
    assert [s.pid for s in again.services] == [s.pid for s in stack.services]


def test_topics_and_subscriptions_follow_topology(stack: StackInfo, settings: Settings) -> None:
    project = stack.project
    delivery = TOPOLOGY["delivery"]
    publisher = publisher_client(stack.pubsub_emulator_host)
    subscriber = subscriber_client(stack.pubsub_emulator_host)
    try:
        topics = {t.name for t in publisher.list_topics(request={"project": f"projects/{project}"})}
        subs = {
            s.name.rsplit("/", 1)[1]: s
            for s in subscriber.list_subscriptions(request={"project": f"projects/{project}"})
        }
    finally:
        subscriber.close()
        publisher.transport.close()

    for key in TOPOLOGY["topics"]:
        topic = settings.topic(key)
        assert f"projects/{project}/topics/{topic}" in topics
        dlq = topic + delivery["dlq_suffix"]
        assert f"projects/{project}/topics/{dlq}" in topics
        dlq_pulls = [
            s
            for s in subs.values()
            if s.topic == f"projects/{project}/topics/{dlq}" and not s.push_config.push_endpoint
        ]
        assert len(dlq_pulls) == 1  # dead letters stay readable

    topology = load_topology()
    for fn in topology.functions:
        port = stack.service(f"fn-{fn.name}").port
        for trigger in fn.triggers:  # a push subscription for every trigger, DLQs included
            topic = topology.topic_name(settings, trigger)
            pushing = [
                s
                for s in subs.values()
                if s.topic == f"projects/{project}/topics/{topic}" and s.push_config.push_endpoint
            ]
            assert len(pushing) == 1, (fn.name, trigger)
            sub = pushing[0]
            assert sub.push_config.push_endpoint == (
                f"http://127.0.0.1:{port}/projects/{project}/topics/{topic}"
            )
            assert sub.ack_deadline_seconds == delivery["ack_deadline_seconds"]
            assert (
                sub.retry_policy.minimum_backoff.total_seconds()
                == delivery["minimum_backoff_seconds"]
            )
            assert (
                sub.retry_policy.maximum_backoff.total_seconds()
                == delivery["maximum_backoff_seconds"]
            )
            if topology.is_dead_letter(trigger):
                # A dead-letter topic's consumer retries, but has no dead-letter topic itself.
                assert not sub.dead_letter_policy.dead_letter_topic
            else:
                assert sub.dead_letter_policy.dead_letter_topic == (
                    f"projects/{project}/topics/{topic}{delivery['dlq_suffix']}"
                )
                assert (
                    sub.dead_letter_policy.max_delivery_attempts
                    == delivery["max_delivery_attempts"]
                )
    assert {fn.name for fn in topology.functions if len(fn.triggers) > 1} == {"record_dead_letter"}


def _throwaway(stack: StackInfo, **subscription: Any) -> tuple[Any, Any, str, str]:
    publisher = publisher_client(stack.pubsub_emulator_host)
    subscriber = subscriber_client(stack.pubsub_emulator_host)
    suffix = uuid.uuid4().hex[:8]
    topic = f"projects/{stack.project}/topics/test-{suffix}"
    sub = f"projects/{stack.project}/subscriptions/test-{suffix}"
    publisher.create_topic(name=topic)
    subscriber.create_subscription(request={"name": sub, "topic": topic, **subscription})
    return publisher, subscriber, topic, sub


def _pull(subscriber: Any, sub: str, timeout: float = 60.0) -> list[Any]:
    def probe() -> list[Any]:
        response = subscriber.pull(
            request={"subscription": sub, "max_messages": 10}, timeout=5, retry=None
        )
        return list(response.received_messages)

    received: list[Any] = wait_for(probe, timeout=timeout)
    subscriber.acknowledge(request={"subscription": sub, "ack_ids": [m.ack_id for m in received]})
    return received


def test_publish_and_pull_round_trip(stack: StackInfo) -> None:
    publisher, subscriber, topic, sub = _throwaway(stack)
    try:
        publisher.publish(topic, b'{"game_date": "2023-01-15"}', origin="test").result(timeout=30)
        received = _pull(subscriber, sub)
        assert [m.message.data for m in received] == [b'{"game_date": "2023-01-15"}']
        assert dict(received[0].message.attributes) == {"origin": "test"}
    finally:
        subscriber.delete_subscription(subscription=sub)
        publisher.delete_topic(topic=topic)
        subscriber.close()
        publisher.transport.close()


def test_failed_push_is_dead_lettered_after_max_attempts(stack: StackInfo) -> None:
    # Nothing listens on the endpoint, so every push attempt fails.
    dead_port = free_port()
    publisher, subscriber, dlq, dlq_sub = _throwaway(stack)
    suffix = uuid.uuid4().hex[:8]
    topic = f"projects/{stack.project}/topics/failing-{suffix}"
    sub = f"projects/{stack.project}/subscriptions/failing-{suffix}"
    publisher.create_topic(name=topic)
    subscriber.create_subscription(
        request={
            "name": sub,
            "topic": topic,
            "push_config": {"push_endpoint": f"http://127.0.0.1:{dead_port}/x"},
            "retry_policy": {
                "minimum_backoff": dt.timedelta(seconds=1),
                "maximum_backoff": dt.timedelta(seconds=2),
            },
            "dead_letter_policy": {"dead_letter_topic": dlq, "max_delivery_attempts": 5},
        }
    )
    try:
        publisher.publish(topic, b"doomed").result(timeout=30)
        received = _pull(subscriber, dlq_sub, timeout=90)
        assert [m.message.data for m in received] == [b"doomed"]
        attributes = dict(received[0].message.attributes)
        assert attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
        assert attributes["CloudPubSubDeadLetterSourceSubscription"] == sub.rsplit("/", 1)[1]
    finally:
        subscriber.delete_subscription(subscription=sub)
        subscriber.delete_subscription(subscription=dlq_sub)
        publisher.delete_topic(topic=topic)
        publisher.delete_topic(topic=dlq)
        subscriber.close()
        publisher.transport.close()


def test_parameterized_query_through_real_bigquery_client(stack: StackInfo) -> None:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    client = bigquery.Client(
        project=stack.project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=stack.bigquery_api_endpoint),
    )
    dataset = f"{stack.project}.stack_test_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    try:
        schema = [
            bigquery.SchemaField("player_lookup", "STRING", mode="REQUIRED"),
            bigquery.SchemaField("game_date", "DATE", mode="REQUIRED"),
            bigquery.SchemaField("pace_score", "NUMERIC"),
            bigquery.SchemaField("is_home", "BOOL"),
        ]
        table = bigquery.Table(f"{dataset}.factors", schema=schema)
        table.time_partitioning = bigquery.TimePartitioning(field="game_date")
        table.clustering_fields = ["player_lookup"]
        client.create_table(table)
        rows = [
            ("lebronjames", "2023-01-15", "1.50", True),
            ("stephcurry", "2023-01-15", "-0.25", False),
            ("lebronjames", "2023-01-16", "2.00", True),
            ("nikolajokic", "2023-01-20", "3.00", True),
        ]
        ndjson = "".join(
            json.dumps(
                dict(zip(("player_lookup", "game_date", "pace_score", "is_home"), r, strict=True))
            )
            + "\n"
            for r in rows
        )
        load = client.load_table_from_file(
            io.BytesIO(ndjson.encode()),
            f"{dataset}.factors",
            job_config=bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON, schema=schema
            ),
        )
        load.result(timeout=60)
        assert load.output_rows == 4

        job = client.query(
            f"SELECT game_date, COUNT(DISTINCT player_lookup) AS players, SUM(pace_score) AS pace"
            f" FROM `{dataset}.factors`"
            " WHERE game_date IN UNNEST(@dates) AND is_home = @home AND pace_score > @floor"
            " GROUP BY game_date ORDER BY game_date",
            job_config=bigquery.QueryJobConfig(
                query_parameters=[
                    bigquery.ArrayQueryParameter(
                        "dates", "DATE", [dt.date(2023, 1, 15), dt.date(2023, 1, 16)]
                    ),
                    bigquery.ScalarQueryParameter("home", "BOOL", True),
                    bigquery.ScalarQueryParameter("floor", "NUMERIC", Decimal("0")),
                ]
            ),
        )
        result = [(r["game_date"], r["players"], r["pace"]) for r in job.result(timeout=60)]
        assert result == [
            (dt.date(2023, 1, 15), 1, Decimal("1.5")),
            (dt.date(2023, 1, 16), 1, Decimal("2")),
        ]
    finally:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
        client.close()


def test_cli_status_and_env(stack: StackInfo, state_dir: Path) -> None:
    cli = [sys.executable, "-m", "shared.tools.stack", "--state-dir", str(state_dir)]
    done = subprocess.run(
        [*cli, "status", "--json"], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {r["service"] for r in rows} == {s.name for s in stack.services}
    assert all(r["alive"] for r in rows)
    env = subprocess.run(
        [*cli, "env"], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT, check=True
    ).stdout
    assert f"export PUBSUB_EMULATOR_HOST={stack.pubsub_emulator_host}" in env.splitlines()


def test_down_stops_every_process(stack: StackInfo, state_dir: Path) -> None:
    stopped = down(state_dir)
    assert {s.service for s in stopped} == {s.name for s in stack.services}
    for svc in stack.services:
        assert not is_alive(svc.pid, svc.start_ticks), svc
        assert not port_open(svc.port)(), svc
        assert not (state_dir / f"{svc.name}.pid").exists()
    assert load_stack_info(state_dir) is None
    assert status(state_dir) == []
    assert down(state_dir) == []


def test_up_fails_clearly_and_cleans_up_when_a_function_cannot_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom at import')\n", encoding="utf-8")
    name = next(iter(TOPOLOGY["functions"]))
    config = StackConfig(
        dynamic_ports=True,
        bigquery_persistent=False,
        functions=(name,),
        function_sources={name: broken},
        startup_timeout=180,
    )
    with pytest.raises(StackError, match="boom at import"):
        up(tmp_path / "state", config)
    assert status(tmp_path / "state") == []
    assert list((tmp_path / "state").glob("*.pid")) == []
