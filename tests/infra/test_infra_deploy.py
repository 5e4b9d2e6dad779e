"""infra/deploy.sh: build + terraform only, per environment; a complete DRY_RUN plan that parses."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.infra_helpers import REPO_ROOT, TF_DIR, probe_module, terraform_env

DEPLOY = REPO_ROOT / "infra" / "deploy.sh"
ENV_DIR = TF_DIR / "environments"

# Flags each terraform subcommand accepts (terraform 1.5+ `terraform <cmd> -help`).
TERRAFORM_FLAGS = {
    "init": {"-input", "-reconfigure", "-backend-config", "-upgrade", "-lockfile"},
    "fmt": {"-check", "-recursive", "-diff"},
    "validate": {"-json", "-no-color"},
    "plan": {"-input", "-lock-timeout", "-var-file", "-out", "-var"},
    "apply": {"-input", "-lock-timeout", "-auto-approve"},
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PCF_", "TF_"))}
    env.update(extra)
    return env


def _deploy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEPLOY), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


@pytest.fixture
def env_dir(tmp_path: Path) -> Path:
    """An environment folder holding dev's and prod's real files made from the examples."""
    for env in ("dev", "prod"):
        for suffix in ("gcs.tfbackend", "tfvars"):
            shutil.copy(ENV_DIR / f"{env}.{suffix}.example", tmp_path / f"{env}.{suffix}")
    return tmp_path


def _plan(env_dir: Path, *args: str, env: str = "dev") -> list[list[str]]:
    result = _deploy(env, *args, env=_env(DRY_RUN="1", TF_ENV_DIR=str(env_dir)))
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


def test_dry_run_is_build_then_terraform_plan_then_apply_of_that_plan(env_dir: Path) -> None:
    commands = _plan(env_dir)
    assert commands[0][-1] == "infra/build.sh"
    steps = [argv[2] for argv in commands[1:]]
    assert steps == ["init", "fmt", "validate", "plan", "apply"]
    for argv in commands[1:]:
        assert argv[:2] == ["terraform", "-chdir=infra/terraform"]
        sub = argv[2]
        flags = {a.split("=", 1)[0] for a in argv[3:] if a.startswith("-")}
        assert flags <= TERRAFORM_FLAGS[sub], (sub, flags - TERRAFORM_FLAGS[sub])
    init, plan, apply = commands[1], commands[4], commands[5]
    assert f"-backend-config={env_dir / 'dev.gcs.tfbackend'}" in init
    assert f"-var-file={env_dir / 'dev.tfvars'}" in plan
    assert "-out=dev.tfplan" in plan
    # apply takes the saved plan (no re-plan, no -auto-approve needed or used).
    assert apply[-1] == "dev.tfplan"
    assert "-auto-approve" not in apply


@pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary on PATH")
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_printed_terraform_commands_run_offline(env_dir: Path, tmp_path: Path, env: str) -> None:
    """Run every printed terraform command verbatim, but against a provider-free copy of the
    module (variables.tf + locals.tf): the flags parse, the tfvars example passes every
    variable validation, the plan is saved and exactly that plan is applied."""
    probe = probe_module(tmp_path / "probe")
    commands = _plan(env_dir, env=env)[1:]
    for argv in commands:
        argv = [shutil.which("terraform") or "terraform", f"-chdir={probe}", *argv[2:]]
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=terraform_env(tmp_path),
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{shlex.join(argv)}\n{result.stdout}\n{result.stderr}"
    assert (probe / f"{env}.tfplan").is_file()
    assert (probe / "terraform.tfstate").is_file()  # the saved plan was applied


def test_plan_and_apply_modes(env_dir: Path) -> None:
    assert [a[2] for a in _plan(env_dir, "plan")[1:]] == ["init", "fmt", "validate", "plan"]
    assert [a[2] for a in _plan(env_dir, "apply")] == ["apply"]


def test_ci_style_environment_without_files() -> None:
    result = _deploy(
        "prod",
        "plan",
        env=_env(DRY_RUN="1", TF_STATE_BUCKET="tf-state", TF_VAR_project="my-pcf-prod"),
    )
    assert result.returncode == 0, result.stderr
    init = next(shlex.split(line) for line in result.stdout.splitlines() if " init " in line)
    assert "-backend-config=bucket=tf-state" in init
    assert "-backend-config=prefix=pcf/prod" in init


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (("dev",), {}, "no state backend for 'dev'"),
        (("dev",), {"TF_STATE_BUCKET": "b"}, "no variables for 'dev'"),
        (("Prod!",), {}, "is not a short lowercase name"),
        (("dev", "destroy"), {}, "unknown mode 'destroy'"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, args: tuple[str, ...], extra: dict[str, str], message: str
) -> None:
    result = _deploy(*args, env=_env(DRY_RUN="1", TF_ENV_DIR=str(tmp_path), **extra))
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""


def test_deploy_creates_nothing_itself() -> None:
    """The wrapper runs build.sh and terraform only: no gcloud, no second owner of anything."""
    code = "\n".join(
        line
        for line in DEPLOY.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    )
    assert "gcloud" not in code
    assert re.findall(r"\brun\b [^\n]*", code), "no commands found"


def _jobs(workflow: str) -> dict[str, str]:
    """The text of each job under `jobs:` (2-space keys), without a YAML parser."""
    body = workflow.split("\njobs:\n", 1)[1]
    parts = re.split(r"^  ([a-z][\w-]*):\n", body, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_ci_workflow_is_safe() -> None:
    workflow = (REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert not (REPO_ROOT / ".github" / "workflows" / "deploy.yml").exists()
    header = workflow.split("\njobs:\n", 1)[0]
    # Workflow-level token: read-only; no OIDC outside the deploy job.
    assert re.search(r"^permissions:\n  contents: read\n", header, re.MULTILINE)
    assert "id-token" not in re.sub(r"#.*", "", header)
    jobs = _jobs(workflow)
    assert set(jobs) == {"test", "deploy"}
    test, deploy = jobs["test"], jobs["deploy"]
    # Tests: .ci/run after Java and the Cloud SDK pubsub emulator component are installed.
    assert "run: .ci/run" in test
    before = test[: test.index("run: .ci/run")]
    assert "actions/setup-java@" in before
    assert "pubsub-emulator" in before
    assert "id-token" not in test
    # Deploy: separate job after the tests, main pushes only, protected environment, OIDC here.
    assert re.search(r"^    needs: test$", deploy, re.MULTILINE)
    assert "github.ref == 'refs/heads/main'" in deploy
    assert "github.event_name == 'push'" in deploy
    assert re.search(r"^    environment:\n      name: prod$", deploy, re.MULTILINE)
    assert re.search(r"^      id-token: write", deploy, re.MULTILINE)
    # Every action pinned by a full commit SHA.
    uses = re.findall(r"uses: (\S+)", workflow)
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), ref
    # fmt -check, validate, a saved plan, and apply of exactly that plan (in that order).
    steps = [
        deploy.index("terraform fmt -check"),
        deploy.index("terraform init -lockfile=readonly"),
        deploy.index("terraform validate"),
        deploy.index("-out=prod.tfplan"),
        deploy.index("terraform apply -lock-timeout=300s prod.tfplan"),
    ]
    assert steps == sorted(steps)
    assert "-auto-approve" not in deploy
    assert deploy.index("google-github-actions/auth@") < deploy.index("terraform init")
    assert "workload_identity_provider:" in deploy
    assert "credentials_json" not in workflow  # no service-account keys


def test_make_targets() -> None:
    makefile = (REPO_ROOT / "infra" / "infra.mk").read_text(encoding="utf-8")
    for target in ("build:", "plan:", "deploy:", "infra-check:", "checkov-venv:", "tfschema-venv:"):
        assert f"\n{target}" in makefile, target
    assert "requirements-checkov.txt" in makefile
    assert "--no-deps -r requirements-tfschema.txt" in makefile
    pins = (REPO_ROOT / "requirements-checkov.txt").read_text(encoding="utf-8")
    assert re.search(r"^checkov==\d+\.\d+\.\d+$", pins, re.MULTILINE)
    tfschema = (REPO_ROOT / "requirements-tfschema.txt").read_text(encoding="utf-8")
    assert re.search(r"^cdktf-cdktf-provider-google==16\.12\.1$", tfschema, re.MULTILINE)
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make tfschema-venv" in ci
