"""Which message model and use case each function runs, read from ``functions/*/main.py``.

The entry points are the single wiring source: each ``main.py`` calls
``run(cloud_event, <Model>, <use_case>)`` with names it imports from ``shared``. This module reads
that call (without importing functions_framework) so the local bus and the stack run exactly what
a deployed function runs; a ``main.py`` of another shape is an error, not a silent skip.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from shared.app import App
from shared.config import REPO_ROOT
from shared.entrypoint import run
from shared.tools.local_bus import LocalBus
from shared.topology import load_topology

FUNCTIONS_DIR = REPO_ROOT / "functions"


@dataclass(frozen=True)
class EntryPoint:
    """What ``functions/<name>/main.py`` runs: ``module:attr`` of its model and use case."""

    name: str
    model: str
    use_case: str


@cache
def entry_point(name: str) -> EntryPoint:
    """Parse ``functions/<name>/main.py`` for its ``run(event, Model, use_case)`` call."""
    path = FUNCTIONS_DIR / name / "main.py"
    if not path.is_file():
        raise FileNotFoundError(f"functions/{name}/main.py is missing (topology names {name!r})")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shared"):
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}:{alias.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "run"
            and len(node.args) == 3
            and all(isinstance(a, ast.Name) and a.id in imported for a in node.args[1:])
        ):
            model, use_case = (imported[a.id] for a in node.args[1:] if isinstance(a, ast.Name))
            return EntryPoint(name, model, use_case)
    raise ValueError(f"functions/{name}/main.py does not call run(cloud_event, Model, use_case)")


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def handler_for(app: App, function: str) -> Callable[[dict[str, Any]], None]:
    """A push handler running ``function`` through the same runner as the Cloud Function."""
    ep = entry_point(function)

    def handle(body: dict[str, Any]) -> None:
        # Imported on first delivery: a local run only loads the functions it exercises.
        run(body, _load(ep.model), _load(ep.use_case), app=app)

    return handle


def wire_local_bus(app: App, bus: LocalBus) -> None:
    """Subscribe every function to its trigger topic, as infra/topology.json declares."""
    for fn in load_topology().functions:
        for trigger in fn.triggers:
            bus.subscribe(trigger, handler_for(app, fn.name))
