"""infra/deploy.sh: clear errors, a complete DRY_RUN plan, and flags this gcloud accepts."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, Terraform

DEPLOY = REPO_ROOT / "infra" / "deploy.sh"
PROJECT = "pcf-test-project"
REGION = "us-east1"
# gcloud's answer when the flags parsed but there is no credential to call the API with.
AUTH_ERROR = re.compile(
    r"You do not currently have an active account selected"
    r"|gcloud auth login"
    r"|Your current active account .* does not have any valid credentials"
    r"|no credentialed accounts",
    re.IGNORECASE,
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCF_")}
    env.update(extra)
    return env


def _deploy(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEPLOY), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[list[str]], Path]:
    """The DRY_RUN=1 plan as argv lists (gcloud lines only) and the env file it wrote."""
    build_dir = tmp_path_factory.mktemp("build")
    result = _deploy(
        env=_env(
            DRY_RUN="1",
            PCF_PROJECT=PROJECT,
            PCF_REGION=REGION,
            BUILD_DIR=str(build_dir),
        )
    )
    assert result.returncode == 0, result.stderr
    commands = [
        shlex.split(line)
        for line in result.stdout.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert commands, "DRY_RUN printed nothing"
    for argv in commands:
        assert argv[0] == "gcloud", f"non-gcloud line in the plan: {argv}"
    return commands, build_dir / "pcf-env.yaml"


def _flags(argv: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for arg in argv:
        if arg.startswith("--"):
            name, _, value = arg.partition("=")
            out[name] = value
    return out


@pytest.mark.parametrize("missing", ["PCF_PROJECT", "PCF_REGION"])
def test_missing_project_or_region_is_a_clear_error(missing: str) -> None:
    values = {"PCF_PROJECT": PROJECT, "PCF_REGION": REGION}
    del values[missing]
    result = _deploy(env=_env(DRY_RUN="1", **values), timeout=30)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
    assert result.stdout == ""


def test_every_function_is_deployed_as_in_the_topology(
    dry_run: tuple[list[list[str]], Path], topology: dict[str, Any]
) -> None:
    commands, env_file = dry_run
    deploys = {argv[3]: _flags(argv) for argv in commands if argv[1:3] == ["functions", "deploy"]}
    assert set(deploys) == set(topology["functions"])
    for name, cfg in topology["functions"].items():
        flags = deploys[name]
        dashed = name.replace("_", "-")
        assert flags["--gen2"] == ""
        assert flags["--runtime"] == "python311"
        assert flags["--entry-point"] == "handle"
        assert flags["--source"].endswith(f"/{name}")
        assert flags["--region"] == REGION and flags["--project"] == PROJECT
        assert flags["--trigger-topic"] == topology["topics"][cfg["trigger_topic"]]
        assert flags["--retry"] == ""
        assert flags["--ingress-settings"] == "internal-only"
        assert "--no-allow-unauthenticated" in flags
        assert flags["--max-instances"] == str(cfg["max_instances"])
        assert flags["--timeout"] == f"{cfg['timeout_seconds']}s"
        assert flags["--memory"] == cfg["memory"]
        assert flags["--env-vars-file"] == str(env_file)
        # Same identities Terraform creates (iam.tf: pcf-<function>, pcf-<function>-trg).
        assert flags["--run-service-account"] == f"pcf-{dashed}@{PROJECT}.iam.gserviceaccount.com"
        assert (
            flags["--trigger-service-account"]
            == f"pcf-{dashed}-trg@{PROJECT}.iam.gserviceaccount.com"
        )
    invokers = {
        argv[3]: _flags(argv)["--member"]
        for argv in commands
        if argv[1:3] == ["functions", "add-invoker-policy-binding"]
    }
    assert invokers == {
        name: f"serviceAccount:pcf-{name.replace('_', '-')}-trg@{PROJECT}.iam.gserviceaccount.com"
        for name in topology["functions"]
    }


def test_dead_letter_policy_on_every_trigger_subscription(
    dry_run: tuple[list[list[str]], Path], topology: dict[str, Any]
) -> None:
    commands, _ = dry_run
    delivery = topology["delivery"]
    updates = [_flags(a) for a in commands if a[1:4] == ["pubsub", "subscriptions", "update"]]
    assert len(updates) == len(topology["functions"])
    expected_dlqs = {
        f"projects/{PROJECT}/topics/{topology['topics'][cfg['trigger_topic']]}-dlq"
        for cfg in topology["functions"].values()
    }
    assert {u["--dead-letter-topic"] for u in updates} == expected_dlqs
    for flags in updates:
        assert flags["--max-delivery-attempts"] == str(delivery["max_delivery_attempts"])
        assert flags["--min-retry-delay"] == f"{delivery['minimum_backoff_seconds']}s"
        assert flags["--max-retry-delay"] == f"{delivery['maximum_backoff_seconds']}s"
    grant_cmd = ["pubsub", "subscriptions", "add-iam-policy-binding"]
    grants = [_flags(a) for a in commands if a[1:4] == grant_cmd]
    assert len(grants) == len(topology["functions"])
    assert all(g["--role"] == "roles/pubsub.subscriber" for g in grants)
    assert all("@gcp-sa-pubsub.iam.gserviceaccount.com" in g["--member"] for g in grants)


def test_schedule_comes_from_the_topology(
    dry_run: tuple[list[list[str]], Path], topology: dict[str, Any]
) -> None:
    commands, _ = dry_run
    schedule = topology["schedule"]
    for verb in ("create", "update"):
        (argv,) = [a for a in commands if a[1:5] == ["scheduler", "jobs", verb, "pubsub"]]
        flags = _flags(argv)
        assert argv[5] == schedule["name"]
        assert flags["--schedule"] == schedule["cron"]
        assert flags["--time-zone"] == schedule["time_zone"]
        assert flags["--topic"] == topology["topics"][schedule["topic"]]
        assert flags["--message-body"] == '{"trigger": "scheduled"}'
        assert flags["--max-retry-attempts"] == str(schedule["retry"]["retry_count"])


def test_env_file_matches_terraform_and_settings(
    dry_run: tuple[list[list[str]], Path],
    terraform: Terraform,
    topology: dict[str, Any],
    deployed_env_names: set[str],
) -> None:
    _, env_file = dry_run
    entries = dict(
        line.split(": ", 1) for line in env_file.read_text(encoding="utf-8").splitlines() if line
    )
    assert set(entries) == deployed_env_names
    assert entries["PCF_WAREHOUSE"] == f'"bigquery://{PROJECT}"'
    assert entries["PCF_BUS"] == '"pubsub"'
    assert entries["PCF_PROJECT"] == f'"{PROJECT}"'
    for key, topic in topology["topics"].items():
        assert entries[f"PCF_TOPIC_{key.upper()}"] == f'"{topic}"'


def _run_gcloud(argv: list[str]) -> tuple[list[str], int, str]:
    with tempfile.TemporaryDirectory(prefix="gcloud-config-") as config:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": config,
            "CLOUDSDK_CONFIG": config,
            "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
            "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
            "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "1",
        }
        try:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=env,
                cwd=REPO_ROOT,
                timeout=90,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return argv, -1, "timed out"
    return argv, result.returncode, result.stderr + result.stdout


def _distinct(commands: list[list[str]], topology: dict[str, Any]) -> list[list[str]]:
    """Commands that differ in more than a function or topic name (gcloud starts in ~1-3 s)."""
    names = {*topology["topics"].values()}
    for fn in topology["functions"]:
        names |= {fn, fn.replace("_", "-"), f"pcf-{fn.replace('_', '-')}"}
    pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
    seen: dict[tuple[str, ...], list[str]] = {}
    for argv in commands:
        seen.setdefault(tuple(pattern.sub("<name>", arg) for arg in argv), argv)
    return list(seen.values())


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud SDK not installed")
def test_gcloud_accepts_every_printed_command(
    dry_run: tuple[list[list[str]], Path], topology: dict[str, Any]
) -> None:
    """Run each command with no account: exit 2 = a flag gcloud rejects; an auth error = parsed.

    Commands identical but for the function/topic they name are run once (every flag and every
    distinct value — memory, timeout, max instances, delays, schedule — is still exercised).
    """
    commands, _ = dry_run
    distinct = _distinct(commands, topology)
    assert len(distinct) >= len(topology["functions"]) + 8
    workers = max(2, min(8, (os.cpu_count() or 2) * 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_run_gcloud, distinct))
    failures = [
        f"exit {code}: {shlex.join(argv)}\n{output.strip()[:600]}"
        for argv, code, output in results
        if not (code == 1 and AUTH_ERROR.search(output))
    ]
    assert not failures, "\n\n".join(failures)


def test_ci_tests_then_deploys_with_workload_identity() -> None:
    workflow = (REPO_ROOT / ".github" / "workflows" / "deploy.yml").read_text(encoding="utf-8")
    assert "branches: [main]" in workflow
    assert "google-github-actions/auth@" in workflow
    assert "workload_identity_provider:" in workflow
    assert "credentials_json" not in workflow  # no service-account keys
    assert "id-token: write" in workflow
    assert workflow.index("run: make test") < workflow.index("run: make deploy")


def test_make_targets() -> None:
    makefile = (REPO_ROOT / "infra" / "infra.mk").read_text(encoding="utf-8")
    for target in ("build:", "deploy: build", "infra-check:", "checkov-venv:"):
        assert f"\n{target}" in makefile, target
    assert "requirements-checkov.txt" in makefile
    pins = (REPO_ROOT / "requirements-checkov.txt").read_text(encoding="utf-8")
    assert re.search(r"^checkov==\d+\.\d+\.\d+$", pins, re.MULTILINE)
