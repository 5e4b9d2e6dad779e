"""The runtime a use case receives: settings, warehouse and bus, built from Settings."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.bus.base import Publisher
from shared.config import REPO_ROOT, Settings, get_settings
from shared.warehouse import Warehouse, open_warehouse

TOPOLOGY_PATH = REPO_ROOT / "infra" / "topology.json"


@lru_cache(maxsize=2)
def load_topology(path: Path = TOPOLOGY_PATH) -> dict[str, Any]:
    """The pipeline wiring from infra/topology.json (shared with Terraform and the stack)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass
class App:
    """What every use case runs with."""

    settings: Settings
    warehouse: Warehouse
    bus: Publisher
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def close(self) -> None:
        """Flush the bus and close the warehouse."""
        self.bus.close()
        self.warehouse.close()


def build_bus(settings: Settings) -> Publisher:
    """The bus named by settings: ``pubsub`` or the in-process ``local`` bus."""
    if settings.bus == "pubsub":
        from shared.bus.pubsub import PubSubPublisher

        return PubSubPublisher(settings)
    from shared.bus.local import LocalBus

    return LocalBus(workers=settings.local_workers)


def build_app(
    settings: Settings | None = None,
    *,
    warehouse: Warehouse | None = None,
    bus: Publisher | None = None,
) -> App:
    """Assemble an App from settings (or the given adapters)."""
    s = settings or get_settings()
    return App(settings=s, warehouse=warehouse or open_warehouse(s), bus=bus or build_bus(s))


_default: App | None = None
_default_lock = threading.Lock()


def reset_default_app() -> None:
    """Forget the process-wide App (tests that change the environment)."""
    global _default
    with _default_lock:
        _default = None


def default_app() -> App:
    """The process-wide App of a Cloud Function instance (built on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = build_app()
        return _default
