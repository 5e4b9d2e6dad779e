"""The runtime a use case receives: settings, warehouse and bus, built from Settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared import log
from shared.bus.base import Publisher
from shared.config import Settings, get_settings
from shared.messages import Alert
from shared.rules.render import RowRenderer, render
from shared.warehouse import Warehouse, open_warehouse


@dataclass
class App:
    """What every use case runs with."""

    settings: Settings
    warehouse: Warehouse
    bus: Publisher
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # How a chunk's rows are rendered: in this process (the deployed functions); the local tools
    # may hand the same jobs to worker processes (shared.tools.render_pool).
    renderer: RowRenderer = field(default=render)

    def alert(self, alert: Alert) -> None:
        """Raise an alert: one log line carrying ``alert_kind`` (what the alert policies match),
        then publish it on the alerts topic."""
        log.event(
            alert.severity,
            f"alert {alert.kind} raised",
            alert_kind=alert.kind,
            alert_summary=alert.summary,
            alert_run_id=alert.run_id,
            alert_game_date=alert.game_date,
            alert_table=alert.table_name,
        )
        self.bus.publish("alerts", alert)

    def close(self) -> None:
        """Flush the bus and close the warehouse."""
        self.bus.close()
        self.warehouse.close()
        close = getattr(self.renderer, "close", None)
        if callable(close):
            close()


BusOpener = Callable[[Settings], Publisher]
_BUS_OPENERS: dict[str, BusOpener] = {}


def register_bus(kind: str, opener: BusOpener) -> None:
    """Make a bus kind available (the local tools register the in-process bus)."""
    _BUS_OPENERS[kind] = opener


def build_bus(settings: Settings) -> Publisher:
    """The bus named by settings: ``pubsub``, or one a tool registered (``local``)."""
    if settings.bus == "pubsub":
        from shared.bus.pubsub import PubSubPublisher

        return PubSubPublisher(settings)
    opener = _BUS_OPENERS.get(settings.bus)
    if opener is None:
        raise ValueError(
            f"bus {settings.bus!r} is a local tool, not part of the deployed runtime: "
            "run through `pcf` (pip install 'pcf-pipeline[local]') or set PCF_BUS=pubsub"
        )
    return opener(settings)


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
