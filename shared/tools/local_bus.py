"""In-process bus: the same messages delivered to the same handlers, with retries and a DLQ."""

from __future__ import annotations

import base64
import heapq
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
    # 0 for what a caller publishes, n+1 for what a delivery of depth n publishes: deeper
    # messages (a date's next step) are delivered first, so dates finish one by one.
    depth: int = 0
    cancelled: bool = False


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
        self._queue: list[tuple[int, int, Published]] = []
        self._seq = itertools.count()
        self._local = threading.local()
        self._stopped = False

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
            depth=getattr(self._local, "depth", -1) + 1,
        )
        with self._cond:
            self.published.append(item)
            if topic_key not in self.handlers:
                return item.message_id
            self._pending += 1
            heapq.heappush(self._queue, (-item.depth, next(self._seq), item))
        try:
            self._pool.submit(self._next)
        except RuntimeError:  # closed after stop(): the message is recorded, never delivered
            with self._cond:
                item.cancelled = True
                self._pending -= 1
                self._cond.notify_all()
        return item.message_id

    def _next(self) -> None:
        """Deliver the most urgent queued message (one call per publish, so none is missed)."""
        with self._cond:
            _, _, item = heapq.heappop(self._queue)
            if self._stopped and item.depth == 0:
                # Stopped (Ctrl-C): a date not started yet stays queued in the ledger.
                item.cancelled = True
                self._pending -= 1
                self._cond.notify_all()
                return
        self._local.depth = item.depth
        try:
            self._deliver(item)
        finally:
            self._local.depth = -1

    def stop(self) -> int:
        """Stop handing out new work (Ctrl-C): queued first-step messages are never delivered;
        deliveries under way and the next steps of started dates finish. Return how many
        queued dates were dropped."""
        with self._cond:
            self._stopped = True
            # A message may carry a chunk of dates: count the dates it leaves queued.
            dropped = sum(
                len(getattr(item.message, "game_dates", None) or [None])
                for _, _, item in self._queue
                if item.depth == 0
            )
        return dropped

    @property
    def stopped(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stopped

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
                    if self._stopped:  # Ctrl-C: no more redeliveries (the date stays unfinished)
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
        """Wait for deliveries and stop the workers (after ``stop()``: at most about a second)."""
        if self._stopped:
            self.drain(timeout=0.2)
            self._pool.shutdown(wait=False, cancel_futures=True)
            return
        self.drain()
        self._pool.shutdown(wait=True)
