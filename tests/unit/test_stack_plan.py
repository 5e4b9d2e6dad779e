"""The emulator stack's Pub/Sub plan follows infra/topology.json, dead-letter consumers included."""

from __future__ import annotations

from shared.config import Settings
from shared.tools.stack.pubsub import plan_pubsub
from shared.topology import load_topology


def test_every_trigger_gets_a_push_subscription_and_dlq_consumers_get_no_dlq() -> None:
    topology = load_topology()
    ports = {fn.name: 9000 + i for i, fn in enumerate(topology.functions)}
    plan = plan_pubsub(Settings(), topology, ports, project="p")
    pushed = {s.topic: s for s in plan.subscriptions if s.push_endpoint}
    consumer = {s.topic: s for s in pushed.values() if s.function == "record_dead_letter"}
    assert set(consumer) == {"pcf-process-date-dlq", "pcf-validate-coverage-dlq"}
    for sub in consumer.values():
        assert sub.push_endpoint == f"http://127.0.0.1:{ports['record_dead_letter']}" + (
            f"/projects/p/topics/{sub.topic}"
        )
        assert sub.minimum_backoff_seconds == topology.delivery.minimum_backoff_seconds
        assert (sub.dead_letter_topic, sub.max_delivery_attempts) == (None, None)
    assert len({s.name for s in plan.subscriptions}) == len(plan.subscriptions)
    process = pushed["pcf-process-date"]
    assert (process.function, process.name) == ("process_date", "process_date-push")
    assert process.dead_letter_topic == "pcf-process-date-dlq"
    # Every DLQ keeps a pull subscription, so dead letters can still be read.
    pulls = {s.topic for s in plan.subscriptions if not s.push_endpoint}
    assert {t + "-dlq" for t in ("pcf-process-date", "pcf-validate-coverage")} <= pulls
