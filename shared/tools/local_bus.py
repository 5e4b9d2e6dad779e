"""In-process bus: the same messages delivered to the same handlers, with retries and a DLQ."""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared import log
from shared.bus.base import Publisher
from shared.messages import Message

Handler = Callable[[dict[str, Any]], None]


@dataclass
class Published:
    """A message as published on the local bus."""

    topic_key: str
    message_id: str
    message: Message
    attributes: dict[str, str]
    attempts: int = 0
    dead_lettered: bool = False
    # Fixed at publish, like Pub/Sub: a redelivery carries the same id and publish time.
    publish_time: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    errors: list[str] = field(default_factory=list)


class LocalBus(Publisher):
    """Pub/Sub semantics in one process: push to a handler, redeliver on raise, dead-letter."""

    def __init__(
        self,
        workers: int = 2,
        max_delivery_attempts: int = 5,
        min_backoff_s: float = 0.01,
        max_backoff_s: float = 0.5,
        dlq_suffix: str = "-dlq",
    ) -> None:
        self.dlq_suffix = dlq_suffix
        self.workers = workers
        self.max_delivery_attempts = max_delivery_attempts
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.handlers: dict[str, Handler] = {}
        self.published: list[Published] = []
        self._ids = itertools.count(1)
        self._pending = 0
        self.completed: Counter[str] = Counter()
        self._cond = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pcf-bus")

    def subscribe(self, topic_key: str, handler: Handler) -> None:
        """Push every message of ``topic_key`` to ``handler`` (one subscription per topic)."""
        self.handlers[topic_key] = handler

    def publish(
        self, topic_key: str, message: Message, attributes: Mapping[str, str] | None = None
    ) -> str:
        """Record the message and schedule its delivery if the topic has a subscriber."""
        item = Published(
            topic_key=topic_key,
            message_id=f"local-{next(self._ids)}",
            message=message,
            attributes={"type": type(message).__name__, **(attributes or {})},
        )
        with self._cond:
            self.published.append(item)
            if topic_key not in self.handlers:
                return item.message_id
            self._pending += 1
        self._pool.submit(self._deliver, item)
        return item.message_id

    def _body(self, item: Published) -> dict[str, Any]:
        return {
            "message": {
                "data": base64.b64encode(item.message.to_bytes()).decode("ascii"),
                "attributes": item.attributes,
                "messageId": item.message_id,
                "publishTime": item.publish_time,
            },
            "subscription": f"local/{item.topic_key}",
            "deliveryAttempt": item.attempts,
        }

    def _deliver(self, item: Published) -> None:
        try:
            handler = self.handlers[item.topic_key]
            while True:
                item.attempts += 1
                try:
                    handler(self._body(item))
                    return
                except Exception as exc:  # a raise means "nack": redeliver with backoff
                    item.errors.append(f"{type(exc).__name__}: {exc}")
                    if item.attempts >= self.max_delivery_attempts:
                        item.dead_lettered = True
                        log.event(
                            "ERROR",
                            f"message dead-lettered after {item.attempts} attempts",
                            topic=item.topic_key,
                            message_id=item.message_id,
                            error=item.errors[-1],
                        )
                        self._dead_letter(item)
                        return
                    delay = min(self.max_backoff_s, self.min_backoff_s * 2 ** (item.attempts - 1))
                    time.sleep(delay)
        finally:
            with self._cond:
                self.completed[item.topic_key] += 1
                self._pending -= 1
                self._cond.notify_all()

    def _dead_letter(self, item: Published) -> None:
        """Forward to ``<key>-dlq`` like Pub/Sub: same payload and attributes, plus its own."""
        if item.topic_key.endswith(self.dlq_suffix):
            return  # a dead-letter topic has no dead-letter topic of its own
        self.publish(
            item.topic_key + self.dlq_suffix,
            item.message,
            {
                **item.attributes,
                "CloudPubSubDeadLetterSourceDeliveryCount": str(item.attempts),
                "CloudPubSubDeadLetterSourceSubscription": f"local/{item.topic_key}",
            },
        )

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every delivery (and what it published) is done; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def messages(self, topic_key: str) -> list[Message]:
        """Every message published to ``topic_key`` so far."""
        with self._cond:
            return [p.message for p in self.published if p.topic_key == topic_key]

    def dead_letters(self) -> list[Published]:
        """Messages that exhausted their delivery attempts."""
        with self._cond:
            return [p for p in self.published if p.dead_lettered]

    def close(self) -> None:
        """Wait for deliveries and stop the workers."""
        self.drain()
        self._pool.shutdown(wait=True)
