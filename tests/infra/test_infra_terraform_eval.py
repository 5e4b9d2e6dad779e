"""The real terraform binary evaluates variables.tf + locals.tf offline (no provider needed).

Every name, grant and subscription is computed in locals from topology.json / schemas / alerts;
python-hcl2 only parses them. Here terraform itself evaluates them — with the repo's topology and
with one extended by a dead-letter consumer function — and runs the variable validations, in a
scratch copy holding no provider, backend or resource (so nothing is downloaded or deployed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.infra.infra_helpers import REPO_ROOT, probe_module, run_terraform

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(
    TERRAFORM is None,
    reason="no terraform binary on PATH (CI's deploy job runs terraform validate instead)",
)

VARS = {
    "project": "my-pcf-prod",
    "environment": "prod",
    "notification_channels": {"emails": ["oncall@example.com"]},
}


def _evaluate(tmp: Path, topology: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    tf = probe_module(tmp, topology)
    (tf / "probe.auto.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
    init = run_terraform(tf, "init", "-backend=false", "-input=false", "-no-color")
    assert init.returncode == 0, init.stdout + init.stderr
    apply = run_terraform(tf, "apply", "-auto-approve", "-input=false", "-no-color")
    assert apply.returncode == 0, apply.stdout + apply.stderr
    out = run_terraform(tf, "output", "-json")
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
    assert len(subs) == sum(
        len(cfg.get("trigger_topics") or [cfg.get("trigger_topic")])
        for cfg in extended["functions"].values()
    )
    assert len(subs) == 6  # four single-trigger functions + two dead-letter topics
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
        "cleanup_leases",
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
        "cleanup_upcoming/cleanup_leases",
    }
    assert "cleanup_upcoming/analytics" not in out["dataset_writers"]
    assert "process_date/precompute" not in out["dataset_writers"]
    assert "process_date/precompute" in out["dataset_readers"]
    env = out["function_env"]
    assert env["PCF_CLEANUP_TABLES"] == (
        '["upcoming_player_game_context","upcoming_team_game_context"]'
    )
    assert env["PCF_COVERAGE_BLOCK_PCT"] == "90"
    assert env["PCF_LOG_FORMAT"] == "json"
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
    tf = probe_module(tmp_path, topology)
    (tf / "probe.auto.tfvars.json").write_text(json.dumps({**VARS, **override}), encoding="utf-8")
    assert run_terraform(tf, "init", "-backend=false", "-input=false").returncode == 0
    plan = run_terraform(tf, "plan", "-input=false", "-no-color")
    assert plan.returncode != 0
    assert message in " ".join((plan.stdout + plan.stderr).split()), plan.stderr


def test_notification_channels_is_required(tmp_path: Path, topology: dict[str, Any]) -> None:
    tf = probe_module(tmp_path, topology)
    variables = {k: v for k, v in VARS.items() if k != "notification_channels"}
    (tf / "probe.auto.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
    assert run_terraform(tf, "init", "-backend=false", "-input=false").returncode == 0
    plan = run_terraform(tf, "plan", "-input=false", "-no-color")
    assert plan.returncode != 0
    assert "No value for required variable" in plan.stderr
    assert "notification_channels" in plan.stderr
