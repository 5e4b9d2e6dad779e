"""The real terraform binary evaluates variables.tf + locals.tf offline (no provider needed).

Every name, grant and subscription is computed in locals from topology.json / schemas / alerts;
python-hcl2 only parses them. Here terraform itself evaluates them — with the repo's topology and
with one extended by a dead-letter consumer function — and runs the variable validations, in a
scratch copy holding no provider, backend or resource (so nothing is downloaded or deployed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, TF_DIR

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(
    TERRAFORM is None,
    reason="no terraform binary on PATH (CI's deploy job runs terraform validate instead)",
)

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
VARS = {
    "project": "my-pcf-prod",
    "environment": "prod",
    "notification_channels": {"emails": ["oncall@example.com"]},
}


def _module(tmp: Path, topology: dict[str, Any]) -> Path:
    infra = tmp / "infra"
    tf = infra / "terraform"
    tf.mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "infra" / "schemas", infra / "schemas")
    shutil.copy(REPO_ROOT / "infra" / "alerts.json", infra / "alerts.json")
    (infra / "topology.json").write_text(json.dumps(topology), encoding="utf-8")
    shutil.copy(TF_DIR / "variables.tf", tf / "variables.tf")
    # The two service-agent locals read the project number from a data source: not evaluable
    # without the provider, and nothing else depends on them here.
    locals_tf = "\n".join(
        line
        for line in (TF_DIR / "locals.tf").read_text(encoding="utf-8").splitlines()
        if "data.google_project" not in line
    )
    (tf / "locals.tf").write_text(locals_tf, encoding="utf-8")
    (tf / "probe.tf").write_text(PROBE_OUTPUTS, encoding="utf-8")
    return tf


def _terraform(tf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tf),
        "TF_CLI_CONFIG_FILE": "/dev/null",
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    assert TERRAFORM is not None
    return subprocess.run(
        [TERRAFORM, f"-chdir={tf}", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _evaluate(tmp: Path, topology: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    tf = _module(tmp, topology)
    (tf / "probe.auto.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
    init = _terraform(tf, "init", "-backend=false", "-input=false", "-no-color")
    assert init.returncode == 0, init.stdout + init.stderr
    apply = _terraform(tf, "apply", "-auto-approve", "-input=false", "-no-color")
    assert apply.returncode == 0, apply.stdout + apply.stderr
    out = _terraform(tf, "output", "-json")
    assert out.returncode == 0, out.stderr
    return {k: v["value"] for k, v in json.loads(out.stdout).items()}


def test_locals_evaluate_generically_over_topology_triggers(
    tmp_path: Path, topology: dict[str, Any]
) -> None:
    extended = json.loads(json.dumps(topology))
    extended["functions"]["record_dead_letter"] = {
        "description": "Record dead letters.",
        "trigger_topics": ["process_date-dlq", "validate_coverage-dlq"],
        "publishes": ["alerts"],
        "reads_datasets": [],
        "writes_datasets": ["orchestration"],
        "max_instances": 1,
        "timeout_seconds": 60,
        "memory": "256Mi",
    }
    out = _evaluate(tmp_path, extended, VARS)
    subs = out["trigger_subscriptions"]
    assert len(subs) == len(topology["functions"]) + 2
    dlq_sub = subs["record_dead_letter/process_date-dlq"]
    assert dlq_sub == {
        "function": "record_dead_letter",
        "trigger": "process_date-dlq",
        "dlq": True,
        "topic_key": "process_date",
        "name": "pcf-process-date-dlq-to-record-dead-letter",
    }
    assert subs["process_date/process_date"]["dlq"] is False
    assert subs["process_date/process_date"]["name"] == "pcf-process-date-to-process-date"
    # No writes_tables: the new function edits its writes_datasets as before.
    assert "record_dead_letter/orchestration" in out["dataset_writers"]
    assert out["invoker_account_ids"]["record_dead_letter"] == "pcf-record-dead-letter-inv"


def test_default_ownership_and_grants(tmp_path: Path, topology: dict[str, Any]) -> None:
    out = _evaluate(tmp_path, topology, VARS)
    assert sorted(out["created_tables"]) == [
        "backfill_ledger",
        "cleanup_runs",
        "player_composite_factors",
    ]
    assert set(out["referenced_datasets"]) == {"reference", "analytics"}
    assert set(out["created_datasets"]) == {"precompute", "orchestration", "backup", "staging"}
    writers = {k for k in out["table_writers"] if k.startswith("cleanup_upcoming/")}
    assert writers == {
        "cleanup_upcoming/upcoming_player_game_context",
        "cleanup_upcoming/upcoming_team_game_context",
        "cleanup_upcoming/cleanup_runs",
    }
    assert "cleanup_upcoming/analytics" not in out["dataset_writers"]
    assert "process_date/precompute" not in out["dataset_writers"]
    assert "process_date/precompute" in out["dataset_readers"]
    env = out["function_env"]
    assert env["PCF_CLEANUP_TABLES"] == (
        '["upcoming_player_game_context","upcoming_team_game_context"]'
    )
    assert env["PCF_COVERAGE_BLOCK_PCT"] == "90" and env["PCF_LOG_FORMAT"] == "json"
    from shared.messages import ALERT_KINDS

    assert sorted(out["alert_kinds"]) == sorted(ALERT_KINDS)


def test_sandbox_creates_upstream_tables_too(tmp_path: Path, topology: dict[str, Any]) -> None:
    out = _evaluate(tmp_path, topology, {**VARS, "create_upstream_tables": True})
    assert len(out["created_tables"]) == len(list((REPO_ROOT / "infra" / "schemas").glob("*.json")))
    assert out["referenced_datasets"] == {}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"notification_channels": {}}, "at least one e-mail, Slack channel or existing"),
        ({"notification_channels": {"emails": ["not-an-address"]}}, "must be e-mail addresses"),
        ({"notification_channels": {"slack_channels": ["pcf"]}}, "Slack channel names"),
        ({"cleanup_tables": ["player_game_summary"]}, "upcoming_* tables only"),
        ({"environment": "Prod"}, "short lowercase name"),
        ({"upstream_datasets": ["nope"]}, "must be dataset keys"),
    ],
)
def test_variable_validation_rejects(
    tmp_path: Path, topology: dict[str, Any], override: dict[str, Any], message: str
) -> None:
    tf = _module(tmp_path, topology)
    (tf / "probe.auto.tfvars.json").write_text(json.dumps({**VARS, **override}), encoding="utf-8")
    assert _terraform(tf, "init", "-backend=false", "-input=false").returncode == 0
    plan = _terraform(tf, "plan", "-input=false", "-no-color")
    assert plan.returncode != 0
    assert message in " ".join((plan.stdout + plan.stderr).split()), plan.stderr


def test_notification_channels_is_required(tmp_path: Path, topology: dict[str, Any]) -> None:
    tf = _module(tmp_path, topology)
    variables = {k: v for k, v in VARS.items() if k != "notification_channels"}
    (tf / "probe.auto.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
    assert _terraform(tf, "init", "-backend=false", "-input=false").returncode == 0
    plan = _terraform(tf, "plan", "-input=false", "-no-color")
    assert plan.returncode != 0
    assert "No value for required variable" in plan.stderr
    assert "notification_channels" in plan.stderr
