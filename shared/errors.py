"""Error classes that decide ack vs retry (see entrypoint): the two never overlap."""

from __future__ import annotations


class PermanentError(RuntimeError):
    """Can never succeed as sent: log at ERROR, record it, acknowledge (no retry)."""


class TransientError(RuntimeError):
    """May succeed later (5xx, rate limit, lock, timeout): raise so Pub/Sub redelivers."""
