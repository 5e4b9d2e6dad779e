"""Pub/Sub emulator wiring: plan topics and subscriptions from the topology, then create them."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.config import Settings
from shared.topology import Topology


@dataclass(frozen=True)
class SubscriptionInfo:
    """One subscription the stack creates: push (to a function) or pull (DLQ / sink topics)."""

    name: str
    topic: str
    push_endpoint: str | None = None
    function: str | None = None
    dead_letter_topic: str | None = None
    max_delivery_attempts: int | None = None
    minimum_backoff_seconds: int | None = None
    maximum_backoff_seconds: int | None = None
    ack_deadline_seconds: int | None = None


@dataclass(frozen=True)
class PubSubPlan:
    """Every topic and subscription of the local stack, in creation order."""

    topics: tuple[str, ...]
    subscriptions: tuple[SubscriptionInfo, ...]


def push_subscription_name(function: str, topic: str | None = None) -> str:
    """Name of the push subscription that feeds ``function`` (from ``topic`` when it has more
    than one trigger)."""
    return f"{function}-push" if topic is None else f"{function}--{topic}-push"


def pull_subscription_name(topic: str) -> str:
    """Name of the pull subscription created on ``topic`` (DLQs and unsubscribed topics)."""
    return f"{topic}-pull"


def push_endpoint(host: str, port: int, project: str, topic: str) -> str:
    """Push URL whose path makes functions-framework name the topic in the CloudEvent source."""
    return f"http://{host}:{port}/projects/{project}/topics/{topic}"


def plan_pubsub(
    settings: Settings,
    topology: Topology,
    function_ports: Mapping[str, int],
    *,
    project: str | None = None,
    host: str = "127.0.0.1",
) -> PubSubPlan:
    """Topics (+ ``-dlq``), a push subscription per trigger of each served function, and pull
    subscriptions.

    Functions absent from ``function_ports`` get no push subscription; a topic nobody is
    pushed from (e.g. alerts) gets a pull subscription so its messages can be read. A
    subscription on a dead-letter topic gets the retry policy but no dead-letter policy.
    """
    project = project or settings.project
    delivery = topology.delivery
    topics: list[str] = []
    for key in topology.topic_keys:
        topic = settings.topic(key)
        topics += [topic, topic + delivery.dlq_suffix]
    subs: list[SubscriptionInfo] = []
    pushed: set[str] = set()
    for fn in topology.functions:
        if fn.name not in function_ports:
            continue
        for trigger in fn.triggers:
            topic = topology.topic_name(settings, trigger)
            is_dlq = topology.is_dead_letter(trigger)
            pushed.add(topic)
            subs.append(
                SubscriptionInfo(
                    name=push_subscription_name(fn.name, topic if len(fn.triggers) > 1 else None),
                    topic=topic,
                    push_endpoint=push_endpoint(host, function_ports[fn.name], project, topic),
                    function=fn.name,
                    dead_letter_topic=None if is_dlq else topic + delivery.dlq_suffix,
                    max_delivery_attempts=None if is_dlq else delivery.max_delivery_attempts,
                    minimum_backoff_seconds=delivery.minimum_backoff_seconds,
                    maximum_backoff_seconds=delivery.maximum_backoff_seconds,
                    ack_deadline_seconds=delivery.ack_deadline_seconds,
                )
            )
    for key in topology.topic_keys:
        topic = settings.topic(key)
        if topic not in pushed and not any(key in fn.triggers for fn in topology.functions):
            subs.append(SubscriptionInfo(name=pull_subscription_name(topic), topic=topic))
    for key in topology.topic_keys:
        dlq = settings.topic(key) + delivery.dlq_suffix
        subs.append(SubscriptionInfo(name=pull_subscription_name(dlq), topic=dlq))
    return PubSubPlan(topics=tuple(topics), subscriptions=tuple(subs))


def publisher_client(emulator_host: str) -> Any:
    """A google-cloud-pubsub PublisherClient bound to the emulator at ``emulator_host``."""
    import grpc  # type: ignore[import-untyped]
    from google.cloud.pubsub import PublisherClient
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    channel = grpc.insecure_channel(emulator_host)
    return PublisherClient(transport=PublisherGrpcTransport(channel=channel))


def subscriber_client(emulator_host: str) -> Any:
    """A google-cloud-pubsub SubscriberClient bound to the emulator at ``emulator_host``."""
    import grpc  # type: ignore[import-untyped]
    from google.cloud.pubsub import SubscriberClient
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    channel = grpc.insecure_channel(emulator_host)
    return SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))


def _subscription_body(project: str, sub: SubscriptionInfo) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"projects/{project}/subscriptions/{sub.name}",
        "topic": f"projects/{project}/topics/{sub.topic}",
    }
    if sub.push_endpoint:
        body["push_config"] = {"push_endpoint": sub.push_endpoint}
    if sub.ack_deadline_seconds is not None:
        body["ack_deadline_seconds"] = sub.ack_deadline_seconds
    if sub.minimum_backoff_seconds is not None and sub.maximum_backoff_seconds is not None:
        body["retry_policy"] = {
            "minimum_backoff": timedelta(seconds=sub.minimum_backoff_seconds),
            "maximum_backoff": timedelta(seconds=sub.maximum_backoff_seconds),
        }
    if sub.dead_letter_topic and sub.max_delivery_attempts:
        body["dead_letter_policy"] = {
            "dead_letter_topic": f"projects/{project}/topics/{sub.dead_letter_topic}",
            "max_delivery_attempts": sub.max_delivery_attempts,
        }
    return body


def provision_pubsub(emulator_host: str, project: str, plan: PubSubPlan) -> None:
    """Create (or bring up to date) every topic and subscription of ``plan``; idempotent."""
    from google.api_core.exceptions import AlreadyExists

    publisher = publisher_client(emulator_host)
    subscriber = subscriber_client(emulator_host)
    try:
        for topic in plan.topics:
            with contextlib.suppress(AlreadyExists):
                publisher.create_topic(name=f"projects/{project}/topics/{topic}")
        for sub in plan.subscriptions:
            body = _subscription_body(project, sub)
            try:
                subscriber.create_subscription(request=body)
            except AlreadyExists:
                paths = [k for k in body if k not in ("name", "topic")]
                if paths:
                    subscriber.update_subscription(
                        request={"subscription": body, "update_mask": {"paths": paths}}
                    )
    finally:
        subscriber.close()
        publisher.transport.close()
