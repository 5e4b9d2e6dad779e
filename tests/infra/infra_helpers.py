"""Helpers for the offline infra tests: paths, python-hcl2 normalisation, merged Terraform."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

TF_DIR = REPO_ROOT / "infra" / "terraform"
SCHEMA_DIR = REPO_ROOT / "infra" / "schemas"
TOPOLOGY_PATH = REPO_ROOT / "infra" / "topology.json"

# Settings that only make sense on a laptop; never deployed (infra/deploy.sh keeps the same list).
LOCAL_ONLY_SETTINGS = frozenset(
    {
        "data_dir",
        "local_workers",
        "duckdb_memory_mb",
        "render_processes",
        "bigquery_api_endpoint",
    }
)


def unquote(value: Any) -> Any:
    """python-hcl2 keeps string literals and labels quoted (``'"name"'``); strip one layer."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def plain(value: Any) -> Any:
    """Recursively unquote a parsed HCL value and drop python-hcl2's bookkeeping keys."""
    if isinstance(value, dict):
        return {
            unquote(k): plain(v)
            for k, v in value.items()
            if not (isinstance(k, str) and k.startswith("__") and k.endswith("__"))
        }
    if isinstance(value, list):
        return [plain(v) for v in value]
    return unquote(value)


class Terraform:
    """All blocks of infra/terraform/*.tf, merged across files."""

    def __init__(self, files: dict[str, dict[str, Any]], texts: dict[str, str]) -> None:
        self.files = files
        self.texts = texts
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.data: dict[str, dict[str, dict[str, Any]]] = {}
        self.variables: dict[str, dict[str, Any]] = {}
        self.locals: dict[str, Any] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[str]] = {}
        for parsed in files.values():
            for block in parsed.get("resource", []):
                self._add_labeled(self.resources, block, comments=True)
            for block in parsed.get("data", []):
                self._add_labeled(self.data, block)
            for block in parsed.get("variable", []):
                for name, body in block.items():
                    self.variables[unquote(name)] = plain(body)
            for block in parsed.get("output", []):
                for name, body in block.items():
                    self.outputs[unquote(name)] = plain(body)
            for block in parsed.get("locals", []):
                self.locals.update(plain(block))

    def _add_labeled(
        self, target: dict[str, dict[str, Any]], block: dict[str, Any], comments: bool = False
    ) -> None:
        for rtype, named in block.items():
            for name, body in named.items():
                key = unquote(name)
                target.setdefault(unquote(rtype), {})[key] = plain(body)
                if comments:
                    self.comments[f"{unquote(rtype)}.{key}"] = [
                        c.get("value", "") for c in body.get("__comments__", [])
                    ]

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        """The body of ``resource "<rtype>" "<name>"`` (fails the test when absent)."""
        assert rtype in self.resources, f"no {rtype} resource in infra/terraform"
        assert name in self.resources[rtype], f"no {rtype}.{name} in infra/terraform"
        return self.resources[rtype][name]

    @property
    def text(self) -> str:
        """All .tf sources concatenated."""
        return "\n".join(self.texts.values())


PROBE_OUTPUTS = """
output "trigger_subscriptions" { value = local.trigger_subscriptions }
output "table_writers" { value = local.table_writers }
output "dataset_writers" { value = local.dataset_writers }
output "dataset_readers" { value = local.dataset_readers }
output "created_datasets" { value = local.created_datasets }
output "referenced_datasets" { value = local.referenced_datasets }
output "created_tables" { value = keys(local.created_tables) }
output "alert_kinds" { value = keys(local.alert_kinds) }
output "function_env" { value = local.function_env }
output "invoker_account_ids" { value = local.invoker_account_ids }
"""


def probe_module(tmp: Path, topology: dict[str, Any] | None = None) -> Path:
    """variables.tf + locals.tf in a scratch infra/ copy, no provider, backend or resource.

    terraform can evaluate (plan/apply) it offline: every local is an output. Only the two
    service-agent locals (project number from a data source) are left out.
    """
    infra = tmp / "infra"
    tf = infra / "terraform"
    tf.mkdir(parents=True)
    shutil.copytree(SCHEMA_DIR, infra / "schemas")
    shutil.copy(REPO_ROOT / "infra" / "alerts.json", infra / "alerts.json")
    if topology is None:
        shutil.copy(TOPOLOGY_PATH, infra / "topology.json")
    else:
        (infra / "topology.json").write_text(json.dumps(topology), encoding="utf-8")
    shutil.copy(TF_DIR / "variables.tf", tf / "variables.tf")
    locals_tf = "\n".join(
        line
        for line in (TF_DIR / "locals.tf").read_text(encoding="utf-8").splitlines()
        if "data.google_project" not in line
    )
    (tf / "locals.tf").write_text(locals_tf, encoding="utf-8")
    (tf / "probe.tf").write_text(PROBE_OUTPUTS, encoding="utf-8")
    return tf


def terraform_env(home: Path) -> dict[str, str]:
    """A clean environment for the terraform binary: no CLI config, no checkpoint calls."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TF_CLI_CONFIG_FILE": "/dev/null",
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def run_terraform(tf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """terraform -chdir=<tf> <args> (the binary must be on PATH)."""
    binary = shutil.which("terraform")
    assert binary is not None, "terraform not on PATH"
    return subprocess.run(
        [binary, f"-chdir={tf}", *args],
        capture_output=True,
        text=True,
        env=terraform_env(tf),
        timeout=120,
        check=False,
    )
