"""Fixtures for the offline infra tests: parsed Terraform, topology, schemas, Settings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.infra_helpers import (
    LOCAL_ONLY_SETTINGS,
    SCHEMA_DIR,
    TF_DIR,
    TOPOLOGY_PATH,
    Terraform,
)


@pytest.fixture(scope="session")
def terraform() -> Terraform:
    """Every infra/terraform/*.tf parsed with python-hcl2."""
    hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is in requirements-dev.txt")
    files: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}
    for path in sorted(TF_DIR.glob("*.tf")):
        texts[path.name] = path.read_text(encoding="utf-8")
        with path.open(encoding="utf-8") as fh:
            files[path.name] = hcl2.load(fh)
    assert files, "no .tf files in infra/terraform"
    return Terraform(files, texts)


@pytest.fixture(scope="session")
def topology() -> dict[str, Any]:
    """infra/topology.json."""
    data: dict[str, Any] = json.loads(TOPOLOGY_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def schemas() -> dict[str, dict[str, Any]]:
    """infra/schemas/*.json keyed by file stem."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(SCHEMA_DIR.glob("*.json"))
    }


@pytest.fixture(scope="session")
def settings_defaults() -> dict[str, Any]:
    """Default value of every Settings field (shared/config.py)."""
    from shared.config import Settings

    return {
        name: field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
    }


@pytest.fixture(scope="session")
def deployed_env_names(settings_defaults: dict[str, Any]) -> set[str]:
    """PCF_<FIELD> for every Settings field the cloud functions must receive."""
    return {f"PCF_{name.upper()}" for name in settings_defaults if name not in LOCAL_ONLY_SETTINGS}
