"""Publisher port and adapters: in-process (local) and Pub/Sub."""

from shared.bus.base import Publisher
from shared.bus.local import LocalBus

__all__ = ["LocalBus", "Publisher"]
