"""Offline consistency checks of infra/terraform against the topology, schemas and Settings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.infra_helpers import LOCAL_ONLY_SETTINGS, REPO_ROOT, TF_DIR, Terraform, plain

TF_FILES = sorted(TF_DIR.glob("*.tf"))
EXPECTED_FILES = {
    "versions.tf",
    "variables.tf",
    "outputs.tf",
    "locals.tf",
    "main.tf",
    "pubsub.tf",
    "functions.tf",
    "iam.tf",
    "bigquery.tf",
    "scheduler.tf",
    "monitoring.tf",
}


def test_expected_files_exist() -> None:
    assert {p.name for p in TF_FILES} >= EXPECTED_FILES
    for env in ("dev", "prod"):
        assert (TF_DIR / "environments" / f"{env}.tfvars.example").is_file()
        assert (TF_DIR / "environments" / f"{env}.gcs.tfbackend.example").is_file()


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: p.name)
def test_tf_file_parses(path: Path) -> None:
    import hcl2

    with path.open(encoding="utf-8") as fh:
        parsed = hcl2.load(fh)
    assert parsed, f"{path.name} parsed to nothing"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_environment_examples_parse(env: str, terraform: Terraform) -> None:
    import hcl2

    with (TF_DIR / "environments" / f"{env}.tfvars.example").open(encoding="utf-8") as fh:
        tfvars = plain(hcl2.load(fh))
    assert tfvars["environment"] == env
    assert {"project", "notification_channels"} <= set(tfvars)
    assert set(tfvars) <= set(terraform.variables), set(tfvars) - set(terraform.variables)
    channels = tfvars["notification_channels"]
    assert sum(len(channels.get(k, [])) for k in ("emails", "slack_channels", "existing")) >= 1
    with (TF_DIR / "environments" / f"{env}.gcs.tfbackend.example").open(encoding="utf-8") as fh:
        backend = plain(hcl2.load(fh))
    assert set(backend) == {"bucket", "prefix"}
    assert backend["prefix"] == f"pcf/{env}"


def test_gcs_backend_lock_file_and_ignores(terraform: Terraform) -> None:
    block = terraform.files["versions.tf"]["terraform"][0]
    assert "gcs" in {k.strip('"') for b in block["backend"] for k in b}
    lock = (TF_DIR / ".terraform.lock.hcl").read_text(encoding="utf-8")
    for provider in ("google", "archive", "time"):
        assert f'provider "registry.terraform.io/hashicorp/{provider}"' in lock
    # zh: hashes are the release zips' SHA-256 sums: 64 hex digits each.
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in re.findall(r'"zh:([^"]*)"', lock))
    result = subprocess.run(
        [
            "git",
            "check-ignore",
            "--no-index",
            "-v",
            "infra/terraform/terraform.tfstate",
            "infra/terraform/prod.tfplan",
            "infra/terraform/environments/prod.tfvars",
            "infra/terraform/environments/prod.gcs.tfbackend",
            "infra/terraform/.terraform/providers",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.stdout.count("\n") == 5, result.stdout + result.stderr
    kept = subprocess.run(
        [
            "git",
            "check-ignore",
            "--no-index",
            "infra/terraform/.terraform.lock.hcl",
            "infra/terraform/environments/prod.tfvars.example",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert kept.stdout == "", f"committed files would be ignored: {kept.stdout}"


def test_google_provider_version_is_bounded(terraform: Terraform) -> None:
    block = terraform.files["versions.tf"]["terraform"][0]
    google = block["required_providers"][0]["google"]
    version = google["version"].strip('"')
    assert ">=" in version, version
    assert "<" in version.replace(">=", ""), version


def test_every_variable_is_typed_and_described(terraform: Terraform) -> None:
    for name, body in terraform.variables.items():
        assert "type" in body, f"variable {name} has no type"
        assert body.get("description"), f"variable {name} has no description"


def test_wiring_is_read_from_topology_and_schemas(terraform: Terraform) -> None:
    loc = terraform.locals
    assert "jsondecode(file(" in loc["topology"]
    assert "topology.json" in loc["topology"]
    assert loc["functions"] == "${local.topology.functions}"
    assert loc["topics"] == "${local.topology.topics}"
    assert loc["schedule"] == "${local.topology.schedule}"
    assert "fileset(" in loc["schema_files"]
    assert "schemas" in loc["schema_files"]
    assert "jsondecode(file(" in loc["tables"]


def test_a_function_resource_per_topology_function(
    terraform: Terraform, topology: dict[str, Any]
) -> None:
    fn = terraform.resource("google_cloudfunctions2_function", "function")
    assert fn["for_each"] == "${local.functions}"
    assert fn["name"] == "${each.key}"
    # Every function folder is in the topology, and every topology function has its folder.
    folders = {
        p.name
        for p in (REPO_ROOT / "functions").iterdir()
        if p.is_dir() and not p.name.startswith((".", "_"))
    }
    assert folders <= set(topology["functions"]), (
        f"functions/ not in topology: {folders - set(topology['functions'])}"
    )
    missing = {
        name
        for name in topology["functions"]
        if not (REPO_ROOT / "functions" / name / "main.py").is_file()
    }
    assert not missing, f"topology functions without functions/<name>/main.py: {sorted(missing)}"


def test_function_trigger_runtime_and_ingress(terraform: Terraform) -> None:
    fn = terraform.resource("google_cloudfunctions2_function", "function")
    build = fn["build_config"][0]
    assert build["runtime"] == "${var.runtime}"
    assert terraform.variables["runtime"]["default"] == "python311"
    assert build["entry_point"] == "handle"
    storage = build["source"][0]["storage_source"][0]
    assert storage["object"] == "${google_storage_bucket_object.source[each.key].name}"

    service = fn["service_config"][0]
    assert service["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    assert service["max_instance_count"] == "${local.max_instances[each.key]}"
    assert service["available_memory"] == "${each.value.memory}"
    assert service["timeout_seconds"] == "${each.value.timeout_seconds}"
    assert service["service_account_email"] == "${google_service_account.runtime[each.key].email}"
    assert service["environment_variables"] == "${local.function_env}"

    # Invoked by Terraform's push subscriptions, not by an Eventarc trigger (which would own a
    # subscription whose dead-letter policy Terraform cannot set).
    assert "event_trigger" not in fn
    assert "time_sleep.iam_propagation" in fn["depends_on"][0] + "".join(fn["depends_on"])


def test_process_date_instances_bounded_by_variable(
    terraform: Terraform, topology: dict[str, Any]
) -> None:
    assert "var.process_date_max_instances" in terraform.locals["max_instances"]
    assert terraform.variables["process_date_max_instances"]["default"] == 2
    assert topology["functions"]["process_date"]["max_instances"] <= 2
    assert "2 concurrent mutating DML" in terraform.texts["functions.tf"]


def test_source_is_a_zip_of_the_staged_build(terraform: Terraform) -> None:
    archive = terraform.data["archive_file"]["source"]
    assert archive["for_each"] == "${local.functions}"
    assert archive["type"] == "zip"
    assert archive["source_dir"] == "${local.build_dir}/${each.key}"
    bucket = terraform.resource("google_storage_bucket", "source")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["versioning"][0]["enabled"] is True


def test_each_function_has_its_own_service_accounts(
    terraform: Terraform, topology: dict[str, Any]
) -> None:
    for name in ("runtime", "invoker"):
        sa = terraform.resource("google_service_account", name)
        assert sa["for_each"] == "${local.functions}"
    assert 'pcf-${replace(fn, "_", "-")}' in terraform.locals["runtime_account_ids"]
    assert 'pcf-${replace(fn, "_", "-")}-inv' in terraform.locals["invoker_account_ids"]
    for fn in [*topology["functions"], "record_dead_letter"]:
        for account_id in (f"pcf-{fn.replace('_', '-')}", f"pcf-{fn.replace('_', '-')}-inv"):
            assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account_id), account_id


def test_topics_match_settings(topology: dict[str, Any], settings_defaults: dict[str, Any]) -> None:
    settings_topics = {
        name.removeprefix("topic_"): value
        for name, value in settings_defaults.items()
        if name.startswith("topic_")
    }
    assert topology["topics"] == settings_topics


def test_topics_and_dead_letter_queues(terraform: Terraform, topology: dict[str, Any]) -> None:
    assert terraform.resource("google_pubsub_topic", "topic")["for_each"] == "${local.topics}"
    assert terraform.resource("google_pubsub_topic", "dlq")["for_each"] == "${local.dlq_topics}"
    assert "local.delivery.dlq_suffix" in terraform.locals["dlq_topics"]
    assert topology["delivery"]["dlq_suffix"] == "-dlq"
    sub = terraform.resource("google_pubsub_subscription", "dlq")
    assert sub["for_each"] == "${local.dlq_topics}"
    assert "var.dead_letter_retention_days * 86400" in sub["message_retention_duration"]
    assert terraform.variables["dead_letter_retention_days"]["default"] == 7
    assert topology["delivery"]["max_delivery_attempts"] == 5


def test_push_subscription_per_function_trigger(terraform: Terraform) -> None:
    sub = terraform.resource("google_pubsub_subscription", "trigger")
    assert sub["for_each"] == "${local.trigger_subscriptions}"
    assert "cfg.trigger_topics" in terraform.locals["function_triggers"]
    assert "cfg.trigger_topic" in terraform.locals["function_triggers"]
    assert sub["ack_deadline_seconds"] == "${local.delivery.ack_deadline_seconds}"
    retry = sub["retry_policy"][0]
    assert retry["minimum_backoff"] == "${local.delivery.minimum_backoff_seconds}s"
    assert retry["maximum_backoff"] == "${local.delivery.maximum_backoff_seconds}s"
    # Dead-letter after delivery.max_delivery_attempts, except on a trigger that IS a DLQ topic.
    (dynamic,) = sub["dynamic"]
    dlp = dynamic["dead_letter_policy"]
    assert dlp["for_each"] == "${each.value.dlq ? [] : [each.value.topic_key]}"
    content = dlp["content"][0]
    assert content["max_delivery_attempts"] == "${local.delivery.max_delivery_attempts}"
    assert content["dead_letter_topic"] == "${google_pubsub_topic.dlq[dead_letter_policy.value].id}"
    push = sub["push_config"][0]
    assert "service_config[0].uri" in push["push_endpoint"]
    assert "no_wrapper" not in push  # the wrapped body is what functions-framework converts
    oidc = push["oidc_token"][0]
    assert oidc["service_account_email"] == (
        "${google_service_account.invoker[each.value.function].email}"
    )
    grant = terraform.resource(
        "google_pubsub_subscription_iam_member", "pubsub_agent_trigger_subscriber"
    )
    assert grant["role"] == "roles/pubsub.subscriber"
    assert "!sub.dlq" in grant["for_each"]


def test_dataset_defaults_match_settings(
    terraform: Terraform, settings_defaults: dict[str, Any], schemas: dict[str, dict[str, Any]]
) -> None:
    settings_datasets = {
        name.removeprefix("dataset_"): value
        for name, value in settings_defaults.items()
        if name.startswith("dataset_")
    }
    assert terraform.variables["datasets"]["default"] == settings_datasets
    assert {"reference", "analytics", "precompute", "orchestration", "backup", "staging"} == set(
        settings_datasets
    )
    assert {s["dataset"] for s in schemas.values()} <= set(settings_datasets)
    ds = terraform.resource("google_bigquery_dataset", "dataset")
    assert ds["for_each"] == "${local.created_datasets}"
    assert terraform.locals["datasets"] == "${var.datasets}"


def test_backup_and_staging_expiration(
    terraform: Terraform, settings_defaults: dict[str, Any]
) -> None:
    bq = terraform.texts["bigquery.tf"]
    assert re.search(r"backup\s*=\s*var\.backup_expiration_days \* local\.day_ms", bq)
    assert re.search(r"staging\s*=\s*var\.staging_table_expiration_days \* local\.day_ms", bq)
    assert settings_defaults["backup_expiration_days"] == 30
    assert terraform.variables["staging_table_expiration_days"]["default"] == 1


def test_a_table_per_schema_file(terraform: Terraform, schemas: dict[str, dict[str, Any]]) -> None:
    table = terraform.resource("google_bigquery_table", "table")
    assert table["for_each"] == "${local.created_tables}"
    assert table["schema"] == "${jsonencode(each.value.schema)}"
    assert table["deletion_protection"] == "${each.value.deletion_protection}"
    assert table["time_partitioning"][0]["field"] == "${each.value.time_partitioning.field}"
    assert "each.value.clustering" in table["clustering"]
    assert table["dataset_id"] == "${local.dataset_ids[each.value.dataset]}"
    assert schemas, "no schema files"
    for stem, schema in schemas.items():
        # The for_each key is the file stem; the table id is the file's "table".
        assert schema["table"] == stem
        for key in ("dataset", "schema", "time_partitioning", "clustering", "deletion_protection"):
            assert key in schema, f"{stem}.json lacks {key}"
        assert schema["owner"] in ("pcf", "upstream"), stem
        # What this product owns is protected; upstream tables are never ours to protect or drop.
        assert schema["deletion_protection"] is (schema["owner"] == "pcf"), stem


def test_only_owned_tables_and_datasets_by_default(
    terraform: Terraform, schemas: dict[str, dict[str, Any]]
) -> None:
    loc = terraform.locals
    assert loc["owned_tables"] == '${{for k, t in local.tables : k => t if t.owner == "pcf"}}'
    assert "var.create_upstream_tables ? local.tables : local.owned_tables" in loc["created_tables"]
    assert terraform.variables["create_upstream_tables"]["default"] is False
    assert terraform.variables["upstream_datasets"]["default"] == ["reference", "analytics"]
    assert "!contains(var.upstream_datasets, key)" in loc["created_datasets"]
    assert terraform.data["google_bigquery_dataset"]["upstream"]["for_each"] == (
        "${local.referenced_datasets}"
    )
    upstream = terraform.data["google_bigquery_table"]["upstream"]
    assert "local.upstream_tables" in upstream["for_each"]
    owned = {k for k, s in schemas.items() if s["owner"] == "pcf"}
    assert owned == {
        "backfill_ledger",
        "cleanup_leases",
        "cleanup_runs",
        "player_composite_factors",
    }


def _env_names(terraform: Terraform, topology: dict[str, Any]) -> set[str]:
    """Expand local.function_env: literal keys plus the for-expressions over datasets/topics."""
    env = terraform.locals["function_env"]
    names = set(re.findall(r"\b(PCF_[A-Z0-9_]+)\s*=", env))
    dataset_keys = terraform.variables["datasets"]["default"].keys()
    sources = {"local.datasets": dataset_keys, "local.topics": topology["topics"].keys()}
    loops = re.findall(r'for (\w+), \w+ in (local\.\w+) : "(PCF_[A-Z_]+)\$\{upper\((\w+)\)\}"', env)
    assert len(loops) == 2, f"expected for-expressions over datasets and topics in {env}"
    for var, source, prefix, upper_of in loops:
        assert var == upper_of
        names |= {f"{prefix}{key.upper()}" for key in sources[source]}
    return names


def test_function_env_sets_every_deployed_setting(
    terraform: Terraform, topology: dict[str, Any], deployed_env_names: set[str]
) -> None:
    names = _env_names(terraform, topology)
    missing, unexpected = deployed_env_names - names, names - deployed_env_names
    assert not missing, f"missing {sorted(missing)}"
    assert not unexpected, f"extra {sorted(unexpected)}"
    env = terraform.locals["function_env"]
    assert 'PCF_WAREHOUSE = "bigquery://${var.project}"' in env
    assert 'PCF_BUS = "pubsub"' in env
    assert "PCF_CLEANUP_TABLES = jsonencode(var.cleanup_tables)" in env


def test_variable_defaults_match_settings(
    terraform: Terraform, settings_defaults: dict[str, Any]
) -> None:
    checked = 0
    for name, body in terraform.variables.items():
        if name not in settings_defaults or "default" not in body:
            continue
        expected = settings_defaults[name]
        actual = body["default"]
        if isinstance(expected, float | int) and not isinstance(expected, bool):
            assert float(actual) == pytest.approx(float(expected)), name
        else:
            assert actual == expected, name
        checked += 1
    assert checked >= 10, f"only {checked} variables compared with Settings"
    # Every deployed Settings field except the derived ones has a variable.
    derived = {"project", "warehouse", "bus", "log_format"} | {
        n for n in settings_defaults if n.startswith(("dataset_", "topic_"))
    }

    missing = set(settings_defaults) - LOCAL_ONLY_SETTINGS - derived - set(terraform.variables)
    assert not missing, f"Settings fields without a Terraform variable: {sorted(missing)}"


def test_no_public_principals(terraform: Terraform) -> None:
    for path in [*TF_DIR.glob("*.tf"), REPO_ROOT / "infra" / "deploy.sh"]:
        # Comments may name them (to say they are absent); code may not.
        text = "\n".join(
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith(("#", "//"))
        )
        for principal in ("allUsers", "allAuthenticatedUsers"):
            assert principal not in text, f"{principal} in {path.name}"
    # Nothing may invoke a function but its own invoker SA (run.invoker on its service only).
    for name, body in terraform.resources["google_cloud_run_v2_service_iam_member"].items():
        assert body["role"] == "roles/run.invoker", name
        assert "google_service_account.invoker[each.key]" in body["member"], name


def test_iam_follows_topology(terraform: Terraform) -> None:
    loc = terraform.locals
    assert "cfg.writes_tables" in loc["table_writers"]
    assert "cfg.writes_datasets" in loc["editor_datasets"]
    assert "!contains(local.table_datasets[fn], ds)" in loc["editor_datasets"]
    assert "cfg.reads_datasets" in loc["dataset_readers"]
    assert "!contains(local.editor_datasets[fn], ds)" in loc["dataset_readers"]
    assert "cfg.publishes" in loc["topic_publishers"]
    expectations = {
        ("google_project_iam_member", "runtime_bigquery_job_user"): (
            "roles/bigquery.jobUser",
            "${local.functions}",
        ),
        ("google_bigquery_table_iam_member", "runtime_table_editor"): (
            "roles/bigquery.dataEditor",
            "${local.table_writers}",
        ),
        ("google_bigquery_dataset_iam_member", "runtime_data_editor"): (
            "roles/bigquery.dataEditor",
            "${local.dataset_writers}",
        ),
        ("google_bigquery_dataset_iam_member", "runtime_data_viewer"): (
            "roles/bigquery.dataViewer",
            "${local.dataset_readers}",
        ),
        ("google_pubsub_topic_iam_member", "runtime_publisher"): (
            "roles/pubsub.publisher",
            "${local.topic_publishers}",
        ),
        ("google_cloud_run_v2_service_iam_member", "invoker"): (
            "roles/run.invoker",
            "${local.functions}",
        ),
        ("google_pubsub_topic_iam_member", "pubsub_agent_dlq_publisher"): (
            "roles/pubsub.publisher",
            "${local.dlq_topics}",
        ),
    }
    for (rtype, name), (role, for_each) in expectations.items():
        body = terraform.resource(rtype, name)
        assert body["role"] == role, f"{rtype}.{name}"
        assert body["for_each"] == for_each, f"{rtype}.{name}"
    scheduler = terraform.resource("google_pubsub_topic_iam_member", "scheduler_cleanup_publisher")
    assert scheduler["topic"] == "${google_pubsub_topic.topic[local.schedule.topic].name}"
    assert "gcp-sa-pubsub.iam.gserviceaccount.com" in loc["pubsub_service_agent"]
    # No project-wide grant other than jobUser for the functions' identities.
    for name, body in terraform.resources.get("google_project_iam_member", {}).items():
        if "runtime" in body["member"] or "invoker" in body["member"]:
            assert body["role"] == "roles/bigquery.jobUser", name


def _grants(topology: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Evaluate the grant locals of locals.tf in Python for the current topology."""
    tables, editors, readers = {}, {}, {}
    for fn, cfg in topology["functions"].items():
        written = cfg.get("writes_tables", [])
        tabled = {schemas[t]["dataset"] for t in written}
        tables[fn] = set(written)
        editors[fn] = {ds for ds in cfg["writes_datasets"] if ds not in tabled}
        readers[fn] = {ds for ds in cfg["reads_datasets"] if ds not in editors[fn]}
    return {"tables": tables, "editors": editors, "readers": readers}


def test_cleanup_and_process_date_get_only_what_they_write(
    topology: dict[str, Any], schemas: dict[str, dict[str, Any]], settings_defaults: dict[str, Any]
) -> None:
    grants = _grants(topology, schemas)
    # cleanup_upcoming: the upcoming_* tables it trims (== the cleanup allow-list) + its run log;
    # no dataset-wide write on analytics (player_game_summary lives there).
    upcoming = {t for t in grants["tables"]["cleanup_upcoming"] if t.startswith("upcoming_")}
    assert upcoming == set(settings_defaults["cleanup_tables"])
    assert grants["tables"]["cleanup_upcoming"] - upcoming == {"cleanup_runs", "cleanup_leases"}
    assert "analytics" not in grants["editors"]["cleanup_upcoming"]
    assert grants["editors"]["cleanup_upcoming"] == {"backup", "staging"}
    # process_date: its output and the ledger; the zone tables beside the output stay read-only.
    assert grants["tables"]["process_date"] == {"player_composite_factors", "backfill_ledger"}
    assert grants["editors"]["process_date"] == {"staging"}
    assert "precompute" in grants["readers"]["process_date"]
    # No function edits a whole dataset holding upstream tables.
    upstream_datasets = {s["dataset"] for s in schemas.values() if s["owner"] == "upstream"}
    for fn, dss in grants["editors"].items():
        assert not dss & upstream_datasets, (fn, dss & upstream_datasets)
    # Every writes_tables entry names a schema file.
    for fn, cfg in topology["functions"].items():
        assert set(cfg.get("writes_tables", [])) <= set(schemas), fn


def test_schedule_from_topology(terraform: Terraform, topology: dict[str, Any]) -> None:
    job = terraform.resource("google_cloud_scheduler_job", "cleanup")
    assert job["name"] == "${local.schedule.name}"
    assert job["schedule"] == "${local.schedule.cron}"
    assert job["time_zone"] == "${local.schedule.time_zone}"
    target = job["pubsub_target"][0]
    assert target["topic_name"] == "${google_pubsub_topic.topic[local.schedule.topic].id}"
    assert target["data"] == "${base64encode(jsonencode(local.schedule.body))}"
    assert job["retry_config"][0]["retry_count"] == "${local.schedule.retry.retry_count}"
    schedule = topology["schedule"]
    assert (schedule["cron"], schedule["time_zone"], schedule["body"]) == (
        "0 4 * * *",
        "America/New_York",
        {"trigger": "scheduled"},
    )
    assert schedule["topic"] == "cleanup"


def test_monitoring_alerts(terraform: Terraform) -> None:
    metric = terraform.resource("google_logging_metric", "alerts")
    assert "jsonPayload.alert_kind:*" in metric["filter"]
    assert metric["label_extractors"]["alert_kind"] == "EXTRACT(jsonPayload.alert_kind)"
    per_kind = terraform.resource("google_monitoring_alert_policy", "alert_kind")
    assert per_kind["for_each"] == "${local.alert_kinds}"
    flt = per_kind["conditions"][0]["condition_threshold"][0]["filter"]
    assert "metric.label.alert_kind=" in flt
    assert "${each.key}" in flt
    assert "${google_logging_metric.alerts.name}" in flt
    policies = terraform.resources["google_monitoring_alert_policy"]
    assert {
        "alert_kind",
        "scheduler_failed",
        "cleanup_absent",
        "backlog_age",
        "dead_letters",
        "function_5xx",
        "function_oom",
    } <= set(policies)
    for policy in policies.values():
        assert policy["notification_channels"] == "${local.notification_channels}"
    text = terraform.texts["monitoring.tf"]
    for needle in (
        "num_undelivered_messages",
        "oldest_unacked_message_age",
        "absent_over_time(logging_googleapis_com:user_pcf_cleanup_succeeded",
        "[26h]",
        'response_code_class=\\"5xx\\"',
        "Memory limit of",
        "cloud_scheduler_job",
    ):
        assert needle in text, needle
    assert terraform.resource("google_monitoring_alert_policy", "backlog_age")["for_each"] == (
        "${local.trigger_subscriptions}"
    )
    # Alerts reach a person: the channel variable is required and validated (>= 1 channel).
    channels = terraform.variables["notification_channels"]
    assert "default" not in channels
    assert any(
        "length(var.notification_channels.emails)" in v["condition"] and "> 0" in v["condition"]
        for v in channels["validation"]
    )
    for rtype in ("email", "slack"):
        terraform.resource("google_monitoring_notification_channel", rtype)


def test_checkov_skips_carry_a_reason() -> None:
    pattern = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")
    found = 0
    for path in TF_DIR.glob("*.tf"):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = pattern.search(line)
            if match:
                found += 1
                assert match.group(1).startswith("CKV"), line
                assert (match.group(2) or "").strip(), (
                    f"checkov skip without reason in {path.name}: {line}"
                )
    assert found, "expected the documented checkov skips"


@pytest.mark.skipif(
    shutil.which("terraform") is None, reason="no terraform binary (fmt check is optional)"
)
def test_terraform_fmt() -> None:
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(TF_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "TF_CLI_CONFIG_FILE": "/dev/null",
            "HOME": "/tmp",
        },
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt would change: {result.stdout}{result.stderr}"


def test_every_reference_is_declared(terraform: Terraform) -> None:
    """var.X, local.X, <type>.<name> and data.<type>.<name> all name something declared."""
    code = "\n".join(
        re.sub(r"#.*$", "", line)
        for text in terraform.texts.values()
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
    )
    locals_declared = set(terraform.locals)
    problems = []
    for name in set(re.findall(r"\bvar\.(\w+)", code)):
        if name not in terraform.variables:
            problems.append(f"var.{name}")
    for name in set(re.findall(r"\blocal\.(\w+)", code)):
        if name not in locals_declared:
            problems.append(f"local.{name}")
    for rtype, name in set(re.findall(r"(?<![\w.])((?:google|time|archive)_\w+)\.(\w+)", code)):
        if name not in terraform.resources.get(rtype, {}):
            problems.append(f"{rtype}.{name}")
    for rtype, name in set(re.findall(r"\bdata\.(\w+)\.(\w+)", code)):
        if name not in terraform.data.get(rtype, {}):
            problems.append(f"data.{rtype}.{name}")
    assert not problems, f"undeclared references: {sorted(problems)}"
