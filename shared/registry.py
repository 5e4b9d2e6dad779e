"""Which message model and use case each function runs; wires the local bus like Pub/Sub."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from shared.app import App, load_topology
from shared.bus.local import LocalBus
from shared.entrypoint import run

# function name → (message model, use case), as "module:attribute".
FUNCTIONS: dict[str, tuple[str, str]] = {
    "dispatch_backfill": ("shared.messages:BackfillRequest", "shared.dispatch:dispatch_backfill"),
    "process_date": ("shared.messages:ProcessDate", "shared.processing:process_date"),
    "validate_coverage": (
        "shared.messages:ValidateCoverage",
        "shared.coverage:validate_coverage",
    ),
    "cleanup_upcoming": ("shared.messages:CleanupRequest", "shared.cleanup:cleanup_upcoming"),
}


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def handler_for(app: App, function: str) -> Callable[[dict[str, Any]], None]:
    """A push handler running ``function`` through the same runner as the Cloud Function."""
    model_ref, use_case_ref = FUNCTIONS[function]

    def handle(body: dict[str, Any]) -> None:
        # Imported on first delivery: a local run only loads the functions it exercises.
        run(body, _load(model_ref), _load(use_case_ref), app=app)

    return handle


def wire_local_bus(app: App, bus: LocalBus) -> None:
    """Subscribe every function to its trigger topic, as infra/topology.json declares."""
    for name, spec in load_topology()["functions"].items():
        bus.subscribe(spec["trigger_topic"], handler_for(app, name))
