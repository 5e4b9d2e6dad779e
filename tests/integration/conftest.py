"""Fixtures of the emulator tier: one local stack per session and Apps/servers on it.

The stack (Pub/Sub emulator, bqemulator, one functions-framework server per function) is the
one ``make stack-up`` started in ``.pcf/stack`` when it is running and healthy — reused and left
running — else a private one in a temporary folder with dynamic ports, stopped at session end.
Helpers (publish, pull, poll, ledger) live in ``stack_helpers.py``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from google.api_core.exceptions import NotFound

from shared.app import App
from shared.config import REPO_ROOT
from shared.tools.local_bus import LocalBus
from shared.tools.stack import (
    DEFAULT_STATE_DIR,
    PubSubPlan,
    StackConfig,
    SubscriptionInfo,
    down,
    load_stack_info,
    load_topology,
    provision_pubsub,
    publisher_client,
    push_endpoint,
    subscriber_client,
    up,
)
from shared.tools.stack.process import free_port, port_open, spawn, stop_groups, wait_until
from tests.integration.stack_helpers import (
    ExtraFunction,
    PullSink,
    Stack,
    drop_datasets,
    healthy,
    isolated_settings,
    stack_app,
    stack_settings,
)

FAULTS_SOURCE = Path(__file__).parent / "faults" / "process_date_faults.py"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's stack: the running ``make stack-up`` one if healthy, else a private one."""
    running = load_stack_info(DEFAULT_STATE_DIR)
    reused = running is not None and healthy(running)
    if running is not None and reused:
        info, state_dir = running, DEFAULT_STATE_DIR
    else:
        state_dir = tmp_path_factory.mktemp("stack")
        config = StackConfig(dynamic_ports=True, bigquery_persistent=False, startup_timeout=180)
        info = up(state_dir, config)
    publisher = publisher_client(info.pubsub_emulator_host)
    subscriber = subscriber_client(info.pubsub_emulator_host)
    try:
        yield Stack(
            info=info,
            state_dir=state_dir,
            reused=reused,
            settings=stack_settings(info),
            topology=load_topology(),
            publisher=publisher,
            subscriber=subscriber,
        )
    finally:
        subscriber.close()
        publisher.transport.close()
        if not reused:
            down(state_dir)


@pytest.fixture
def sink(stack: Stack) -> Iterator[Callable[[str], PullSink]]:
    """Factory of test-owned pull subscriptions, deleted after the test."""
    made: list[PullSink] = []

    def make(topic: str) -> PullSink:
        made.append(stack.sink(topic))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="session")
def pipeline_app(stack: Stack) -> Iterator[App]:
    """An App on the datasets and topics the function servers use (tables created)."""
    app = stack_app(stack)
    app.warehouse.create_all()
    yield app
    app.close()


@pytest.fixture
def isolated_app(stack: Stack) -> Iterator[Callable[[], App]]:
    """Factory of Apps on fresh datasets of their own (created, deleted after the test).

    Their bus is an unwired LocalBus: it records what a use case publishes (a fake at our own
    port), so nothing reaches the function servers, which work on the default datasets.
    """
    made: list[App] = []

    def make() -> App:
        app = stack_app(stack, isolated_settings(stack), LocalBus(workers=1))
        app.warehouse.create_all()
        made.append(app)
        return app

    yield make
    for app in made:
        drop_datasets(app)
        app.close()


@pytest.fixture(scope="session")
def faults(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtraFunction]:
    """``faults/process_date_faults.py`` served on its own port, pushed from its own topic.

    Its push subscription has the delivery policy of infra/topology.json (retry backoff,
    dead-letter topic ``<topic>-dlq`` after the same number of attempts), like every pipeline
    subscription. Works the same whether the stack was started here or reused.
    """
    folder = tmp_path_factory.mktemp("faults")
    fault_dir = folder / "markers"
    fault_dir.mkdir()
    delivery = stack.topology.delivery
    topic = f"pcf-test-faults-{uuid.uuid4().hex[:6]}"
    dlq = topic + delivery.dlq_suffix
    port = free_port()
    pythonpath = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {
        **stack.env(),
        "GOOGLE_CLOUD_PROJECT": stack.project,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "PCF_TEST_FAULT_DIR": str(fault_dir),
    }
    proc = spawn(
        "fn-faults",
        [
            str(REPO_ROOT / ".venv" / "bin" / "functions-framework"),
            "--target=handle",
            "--signature-type=cloudevent",
            f"--source={FAULTS_SOURCE}",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        log=folder / "fn-faults.log",
        pid_file=folder / "fn-faults.pid",
        env=env,
        cwd=REPO_ROOT,
    )
    push = SubscriptionInfo(
        name=f"{topic}-push",
        topic=topic,
        push_endpoint=push_endpoint("127.0.0.1", port, stack.project, topic),
        function="faults",
        dead_letter_topic=dlq,
        max_delivery_attempts=delivery.max_delivery_attempts,
        minimum_backoff_seconds=delivery.minimum_backoff_seconds,
        maximum_backoff_seconds=delivery.maximum_backoff_seconds,
        ack_deadline_seconds=delivery.ack_deadline_seconds,
    )
    dlq_sink: PullSink | None = None
    try:
        wait_until(proc, port_open(port), timeout=60, what=f"port {port} open")
        provision_pubsub(
            stack.info.pubsub_emulator_host,
            stack.project,
            PubSubPlan(topics=(topic, dlq), subscriptions=(push,)),
        )
        dlq_sink = stack.sink(dlq)  # made before anything is published: sees every dead letter
        yield ExtraFunction(
            topic=topic,
            dlq=dlq,
            dlq_sink=dlq_sink,
            push_subscription=push.name,
            fault_dir=fault_dir,
            log=proc.log,
            port=port,
        )
    finally:
        stop_groups([(proc.pid, proc.start_ticks)])
        if dlq_sink is not None:
            dlq_sink.close()
        with contextlib.suppress(NotFound):
            stack.subscriber.delete_subscription(
                request={"subscription": stack.subscription_path(push.name)}
            )
        for name in (topic, dlq):
            with contextlib.suppress(NotFound):
                stack.publisher.delete_topic(request={"topic": stack.topic_path(name)})
