"""Pub/Sub adapter (google-cloud-pubsub; honours PUBSUB_EMULATOR_HOST by itself)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.bus.base import Publisher
from shared.config import Settings
from shared.errors import TransientError
from shared.messages import Message


class PubSubPublisher(Publisher):
    """Publish to real (or emulated) Pub/Sub topics named by Settings."""

    def __init__(
        self, settings: Settings, client: Any | None = None, timeout: float = 60.0
    ) -> None:
        self.settings = settings
        self.client = client or pubsub_v1.PublisherClient()
        self.timeout = timeout

    def topic_path(self, topic_key: str) -> str:
        """``projects/P/topics/T`` for a topic key."""
        return str(self.client.topic_path(self.settings.project, self.settings.topic(topic_key)))

    def publish(
        self, topic_key: str, message: Message, attributes: Mapping[str, str] | None = None
    ) -> str:
        """Publish and wait for the server's message id."""
        attrs = {"type": type(message).__name__, **(attributes or {})}
        try:
            future = self.client.publish(self.topic_path(topic_key), message.to_bytes(), **attrs)
            return str(future.result(timeout=self.timeout))
        except (gexc.ServiceUnavailable, gexc.DeadlineExceeded, TimeoutError) as exc:
            # Surfacing as transient makes the caller's delivery retry (nothing is lost).
            raise TransientError(f"publish to {topic_key} failed: {exc}") from exc
