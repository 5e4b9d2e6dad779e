"""Helpers of the emulator tier: reach a running stack, publish, pull, poll, build Apps on it.

Imported by ``conftest.py`` (fixtures) and the test modules
(``from tests.integration.stack_helpers import …``, the same pattern as
``tests/infra/infra_helpers.py``). Every wait is bounded polling on a
condition (deadline + short poll interval), never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar

from google.cloud import bigquery

from shared.app import App, build_app
from shared.bus.base import Publisher
from shared.bus.pubsub import PubSubPublisher
from shared.config import Settings
from shared.tools.stack import StackInfo, Topology, publisher_client, stack_env
from shared.tools.stack.process import http_ok, is_alive, port_open
from shared.usecases import ledger
from shared.warehouse.bigquery import BigQueryWarehouse

POLL_SECONDS = 0.25
DATASET_KEYS = ("reference", "analytics", "precompute", "orchestration", "backup", "staging")
T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | Literal[False] | None],
    *,
    timeout: float,
    what: str,
    every: float = POLL_SECONDS,
) -> T:
    """The first truthy ``probe()`` result, polling every ``every`` s for at most ``timeout`` s
    (a probe answers ``None`` or ``False`` while the condition does not hold yet)."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}: {last!r}")
        time.sleep(every)


def healthy(info: StackInfo) -> bool:
    """Every recorded process alive, bqemulator ready, every other port answering."""
    if not all(is_alive(s.pid, s.start_ticks) for s in info.services):
        return False
    if not http_ok(f"{info.bigquery_api_endpoint}/readyz")():
        return False
    return all(port_open(s.port)() for s in info.services if s.name != "bigquery")


def stack_settings(info: StackInfo, **overrides: Any) -> Settings:
    """Settings of a client of this stack: BigQuery on bqemulator, Pub/Sub on the emulator."""
    return Settings(
        project=info.project,
        warehouse=f"bigquery://{info.project}",
        bigquery_api_endpoint=info.bigquery_api_endpoint,
        bus="pubsub",
        **overrides,
    )


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a server log (other lines are skipped)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


@dataclass
class Stack:
    """A running stack and what a test needs to reach it."""

    info: StackInfo
    state_dir: Path
    reused: bool
    settings: Settings
    topology: Topology
    publisher: Any
    subscriber: Any

    @property
    def project(self) -> str:
        """The emulated project."""
        return self.info.project

    def env(self) -> dict[str, str]:
        """Environment of a client process (``pcf``) that talks to this stack."""
        return {**os.environ, **stack_env(self.info)}

    def topic_path(self, topic: str) -> str:
        """``projects/P/topics/T`` for a topic name."""
        return f"projects/{self.project}/topics/{topic}"

    def subscription_path(self, name: str) -> str:
        """``projects/P/subscriptions/S`` for a subscription name."""
        return f"projects/{self.project}/subscriptions/{name}"

    def topic(self, key: str) -> str:
        """The topic name of a topology key (backfill_requests, process_date, ...)."""
        return self.settings.topic(key)

    def publish(self, topic: str, data: bytes, **attributes: str) -> str:
        """Publish raw bytes to a topic name; return the server's message id."""
        future = self.publisher.publish(self.topic_path(topic), data, **attributes)
        return str(future.result(timeout=30))

    def function_log(self, function: str) -> Path:
        """The log file of a function server (one JSON object per line)."""
        return Path(self.info.service(f"fn-{function}").log)

    def sink(self, topic: str) -> PullSink:
        """A fresh pull subscription on ``topic`` (it sees what is published from now on)."""
        return PullSink(self, topic)


class PullSink:
    """A test-owned pull subscription: collects (and acks) every message it receives."""

    def __init__(self, stack: Stack, topic: str) -> None:
        self.stack = stack
        self.topic = topic
        self.name = f"test-{uuid.uuid4().hex[:8]}-{topic}"[:255]
        self.path = stack.subscription_path(self.name)
        self.received: list[Any] = []
        stack.subscriber.create_subscription(
            request={"name": self.path, "topic": stack.topic_path(topic)}
        )

    def poll(self) -> list[Any]:
        """Pull what is there (waits ~1 s at most when nothing is); return all received so far."""
        from google.api_core.exceptions import DeadlineExceeded

        try:
            # A short deadline rather than return_immediately (deprecated): the emulator answers
            # as soon as a message is there, else the call times out empty.
            response = self.stack.subscriber.pull(
                request={"subscription": self.path, "max_messages": 100}, timeout=1.0, retry=None
            )
        except DeadlineExceeded:
            return self.received
        messages = list(response.received_messages)
        if messages:
            self.stack.subscriber.acknowledge(
                request={"subscription": self.path, "ack_ids": [m.ack_id for m in messages]}
            )
            self.received.extend(m.message for m in messages)
        return self.received

    def wait(self, match: Callable[[Any], bool], *, timeout: float, what: str) -> list[Any]:
        """Poll until some received message matches; return the matching ones."""
        return wait_for(
            lambda: [m for m in self.poll() if match(m)], timeout=timeout, what=what, every=0.05
        )

    def close(self) -> None:
        """Delete the subscription (missing is fine)."""
        from google.api_core.exceptions import NotFound

        with contextlib.suppress(NotFound):
            self.stack.subscriber.delete_subscription(request={"subscription": self.path})


def payload(message: Any) -> dict[str, Any]:
    """The JSON body of a pulled Pub/Sub message."""
    data: dict[str, Any] = json.loads(message.data.decode("utf-8"))
    return data


def stack_app(stack: Stack, settings: Settings | None = None, bus: Publisher | None = None) -> App:
    """An App on bqemulator; its bus publishes to the emulator unless another bus is given.

    The publisher gets a client bound to the emulator explicitly (what ``PUBSUB_EMULATOR_HOST``
    would do) so this process's environment stays untouched.
    """
    settings = settings or stack.settings
    if bus is None:
        bus = PubSubPublisher(settings, client=publisher_client(stack.info.pubsub_emulator_host))
    return build_app(settings, bus=bus)


def isolated_settings(stack: Stack, tag: str | None = None) -> Settings:
    """Stack settings with datasets of their own (``it<tag>_<key>``): no function reads them."""
    tag = tag or uuid.uuid4().hex[:8]
    return stack_settings(stack.info, **{f"dataset_{k}": f"it{tag}_{k}" for k in DATASET_KEYS})


def bq_client(app: App) -> bigquery.Client:
    """The google-cloud-bigquery client of an App on the stack's BigQuery."""
    assert isinstance(app.warehouse, BigQueryWarehouse), type(app.warehouse).__name__
    client: bigquery.Client = app.warehouse.client
    return client


def drop_datasets(app: App) -> None:
    """Delete every dataset of an App (with contents; missing is fine)."""
    client = bq_client(app)
    for key in DATASET_KEYS:
        client.delete_dataset(
            f"{app.settings.project}.{app.settings.dataset(key)}",
            delete_contents=True,
            not_found_ok=True,
        )


def run_ledger(app: App, run_id: str, start: date, end: date) -> dict[date, dict[str, Any]]:
    """The latest ledger row per date of one run."""
    return ledger.latest_by_date(app.warehouse, start, end, run_id=run_id)


@dataclass
class ExtraFunction:
    """A test-only functions-framework server outside the stack, pushed to from a test topic."""

    topic: str
    dlq: str
    dlq_sink: PullSink
    push_subscription: str
    fault_dir: Path
    log: Path
    port: int

    def deliveries(self, key: str) -> list[float]:
        """Arrival times (epoch seconds) of every delivery of the marked message ``key``."""
        path = self.fault_dir / f"{key}.deliveries"
        if not path.exists():
            return []
        return [float(x) for x in path.read_text(encoding="utf-8").split()]
