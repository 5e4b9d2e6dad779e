"""The Publisher port: publish a message model to a topic key."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from shared.messages import Message


class Publisher(ABC):
    """Publishes pipeline messages; topic keys map to Settings.topic_<key>."""

    @abstractmethod
    def publish(
        self, topic_key: str, message: Message, attributes: Mapping[str, str] | None = None
    ) -> str:
        """Publish ``message`` to the topic; return the message id."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources."""
