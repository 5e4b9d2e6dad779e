"""One owner, one definition: alerts, function settings and deployed resources stay consistent.

- every alert kind the code can raise (shared/messages.py ALERT_KINDS, and every literal
  ``kind="…"`` in shared/) has an alert policy (infra/alerts.json → monitoring.tf) and a row in
  infra/README.md's alert table;
- every function's env, limits and triggers come from one place (topology.json / locals);
- nothing outside Terraform creates a function, a subscription's delivery policy or a scheduler
  job (grep over infra/ and shared/).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.infra.infra_helpers import REPO_ROOT, TF_DIR, Terraform

ALERTS = json.loads((REPO_ROOT / "infra" / "alerts.json").read_text(encoding="utf-8"))["kinds"]
README = (REPO_ROOT / "infra" / "README.md").read_text(encoding="utf-8")


def test_every_alert_kind_has_a_policy() -> None:
    from shared.messages import ALERT_KINDS

    assert set(ALERT_KINDS) == set(ALERTS), (
        f"kinds without a policy: {sorted(set(ALERT_KINDS) - set(ALERTS))}; "
        f"policies without a kind: {sorted(set(ALERTS) - set(ALERT_KINDS))}"
    )
    for kind, spec in ALERTS.items():
        assert spec["severity"] in ("WARNING", "ERROR", "CRITICAL"), kind
        assert spec["title"], kind
        assert spec["fires_when"], kind
        assert spec["action"], kind


def test_every_kind_raised_in_code_is_a_known_kind() -> None:
    from shared.messages import ALERT_KINDS

    raised: dict[str, list[str]] = {}
    for path in (REPO_ROOT / "shared").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for kind in re.findall(
            r'\bAlert\((?:(?!\bAlert\().){0,400}?\bkind="([a-z_]+)"', text, re.S
        ):
            raised.setdefault(kind, []).append(str(path.relative_to(REPO_ROOT)))
    assert raised, "no Alert(kind=...) found in shared/"
    unknown = {k: v for k, v in raised.items() if k not in ALERT_KINDS}
    assert not unknown, f"alert kinds raised but not in ALERT_KINDS: {unknown}"


def test_alerts_are_matched_by_the_one_field_app_alert_logs(terraform: Terraform) -> None:
    import inspect

    from shared.app import App

    source = inspect.getsource(App.alert)
    assert "alert_kind=alert.kind" in source  # the single structured field every alert carries
    metric = terraform.resource("google_logging_metric", "alerts")
    assert "jsonPayload.alert_kind:*" in metric["filter"]
    assert terraform.locals["alert_kinds"].startswith("${jsondecode(file(")
    assert "alerts.json" in terraform.locals["alert_kinds"]
    # Cloud Logging needs JSON lines to fill jsonPayload: the functions log JSON.
    assert 'PCF_LOG_FORMAT = "json"' in terraform.locals["function_env"]


def test_readme_alert_table_lists_every_policy(terraform: Terraform) -> None:
    section = README.split("## Alerts", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    table = "\n".join(rows)
    for kind in ALERTS:
        assert f"`{kind}`" in table, f"alert kind {kind} missing from infra/README.md ## Alerts"
    for name in terraform.resources["google_monitoring_alert_policy"]:
        if name != "alert_kind":
            assert f"`{name}`" in table, f"policy {name} missing from infra/README.md ## Alerts"


def test_function_settings_come_from_the_topology(
    terraform: Terraform, topology: dict[str, Any]
) -> None:
    fn = terraform.resource("google_cloudfunctions2_function", "function")
    service = fn["service_config"][0]
    assert fn["for_each"] == "${local.functions}"
    assert service["available_memory"] == "${each.value.memory}"
    assert service["timeout_seconds"] == "${each.value.timeout_seconds}"
    assert service["max_instance_count"] == "${local.max_instances[each.key]}"
    assert service["environment_variables"] == "${local.function_env}"  # one env for all
    sub = terraform.resource("google_pubsub_subscription", "trigger")
    assert sub["for_each"] == "${local.trigger_subscriptions}"
    # No function name, memory size or topic name is typed into the .tf files.
    code = "\n".join(
        line
        for text in terraform.texts.values()
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
    )
    # Named on purpose: process_date's DML ceiling variable, cleanup_upcoming's table-level
    # grants and its success metric. No other function is special-cased.
    special = {"process_date", "cleanup_upcoming"}
    for name in set(topology["functions"]) - special:
        assert f'"{name}"' not in code, name
    for cfg in topology["functions"].values():
        assert f'"{cfg["memory"]}"' not in code
    for topic in topology["topics"].values():
        assert f'"{topic}' not in code, topic


def test_generic_over_topology_triggers(topology: dict[str, Any]) -> None:
    """A function with trigger_topics (e.g. a dead-letter consumer) gets one subscription each."""
    suffix = topology["delivery"]["dlq_suffix"]
    extended = json.loads(json.dumps(topology))
    extended["functions"]["record_dead_letter"] = {
        "trigger_topics": ["process_date" + suffix, "validate_coverage" + suffix]
    }
    subs = {}
    for fn, cfg in extended["functions"].items():
        for trigger in cfg.get("trigger_topics") or [cfg["trigger_topic"]]:
            dlq = trigger.endswith(suffix)
            key = trigger.removesuffix(suffix)
            topic = extended["topics"][key] + (suffix if dlq else "")
            subs[f"{fn}/{trigger}"] = (f"{topic}-to-{fn.replace('_', '-')}", dlq)
    assert subs["record_dead_letter/process_date-dlq"] == (
        "pcf-process-date-dlq-to-record-dead-letter",
        True,
    )
    assert subs["process_date/process_date"] == ("pcf-process-date-to-process-date", False)
    assert len(subs) == sum(
        len(cfg.get("trigger_topics") or [cfg.get("trigger_topic")])
        for cfg in extended["functions"].values()
    )
    assert len(subs) == 6  # four single-trigger functions + two dead-letter topics
    assert all(len(name) <= 255 and name[0].isalpha() for name, _ in subs.values())


# Calls that create or change a function, a trigger / subscription delivery policy or a scheduler
# job. Terraform (infra/terraform) is their only owner.
OWNERSHIP_PATTERNS = {
    "gcloud functions deploy": r"functions\s+deploy\b",
    "gcloud scheduler jobs create/update": r"scheduler\s+jobs\s+(create|update)\b",
    "gcloud eventarc triggers create": r"eventarc\s+triggers\s+create\b",
    "gcloud pubsub subscriptions create/update": r"pubsub\s+subscriptions\s+(create|update)\b",
    "Cloud Scheduler API create/update": r"\.(create_job|update_job)\(",
    "Cloud Functions API create/update": r"\.(create_function|update_function)\(",
}


def _ownership_violations() -> list[str]:
    hits = []
    roots = [REPO_ROOT / "infra", REPO_ROOT / "shared"]
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file() or path.suffix not in (".py", ".sh", ".mk", ".json", ""):
                continue
            if TF_DIR in path.parents or "__pycache__" in path.parts:
                continue
            # The local emulator stack provisions its own emulator subscriptions (never the cloud).
            if Path("shared/tools/stack") in path.relative_to(REPO_ROOT).parents:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for what, pattern in OWNERSHIP_PATTERNS.items():
                for match in re.finditer(pattern, text):
                    line = text.count("\n", 0, match.start()) + 1
                    hits.append(f"{path.relative_to(REPO_ROOT)}:{line}: {what}")
    return hits


def test_nothing_outside_terraform_creates_functions_or_jobs() -> None:
    violations = _ownership_violations()
    assert not violations, "\n".join(violations)


def test_ownership_grep_catches_a_second_owner() -> None:
    """The grep patterns match what the old deploy path did (so the test above can fail)."""
    samples = [
        "gcloud functions deploy process_date --gen2",
        "gcloud scheduler jobs create pubsub pcf-cleanup-daily",
        "gcloud pubsub subscriptions update sub --dead-letter-topic=t",
        "self.client.create_job(parent=parent, job=job)",
    ]
    for sample in samples:
        assert any(re.search(p, sample) for p in OWNERSHIP_PATTERNS.values()), sample
    assert not any(
        re.search(p, "gcloud scheduler jobs run pcf-cleanup-daily")
        for p in OWNERSHIP_PATTERNS.values()
    )


def test_emulator_stack_pushes_like_terraform(
    terraform: Terraform, topology: dict[str, Any]
) -> None:
    """The local stack's push subscriptions carry the delivery policy Terraform declares."""
    from shared.config import Settings
    from shared.tools.stack.pubsub import plan_pubsub
    from shared.topology import load_topology

    topo = load_topology()
    delivery = topology["delivery"]
    ports = {fn.name: 9000 + i for i, fn in enumerate(topo.functions)}
    plan = plan_pubsub(Settings(), topo, ports, project="p")
    pushes = [s for s in plan.subscriptions if s.push_endpoint]
    assert {s.function for s in pushes} == set(ports)
    for sub in pushes:
        dlq = sub.topic.endswith(delivery["dlq_suffix"])
        assert sub.minimum_backoff_seconds == delivery["minimum_backoff_seconds"]
        assert sub.maximum_backoff_seconds == delivery["maximum_backoff_seconds"]
        assert sub.ack_deadline_seconds == delivery["ack_deadline_seconds"]
        if not dlq:
            assert sub.dead_letter_topic == sub.topic + delivery["dlq_suffix"]
            assert sub.max_delivery_attempts == delivery["max_delivery_attempts"]
        # Same endpoint path as pubsub.tf: /projects/<project>/topics/<topic>.
        assert sub.push_endpoint is not None
        assert sub.push_endpoint.endswith(f"/projects/p/topics/{sub.topic}")
    endpoint = terraform.resource("google_pubsub_subscription", "trigger")["push_config"][0]
    assert "}/projects/${var.project}/topics/${" in endpoint["push_endpoint"]
