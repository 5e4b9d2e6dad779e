"""Publisher port and the Pub/Sub adapter (the in-process bus is a local tool)."""

from shared.bus.base import Publisher

__all__ = ["Publisher"]
