"""`pip install .` without extras: a command needing a local tool says which extra, exit 2.

Each case runs ``pcf`` in a fresh interpreter where the local-only package is made unimportable
by a ``None`` entry in ``sys.modules`` (what Python does for a package that is not installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import REPO_ROOT
from shared.tools.cli import command_name, is_local_only, missing_module

HINT = "needs the local tools: pip install 'pcf-pipeline[local]'"

RUNNER = """
import sys
blocked, argv_sets = sys.argv[1], sys.argv[2:]
from shared.tools.cli import main
code = 0
for argv in argv_sets:
    if argv == "--block":
        for name in blocked.split(","):
            sys.modules[name] = None  # "not installed"
        continue
    code = main(argv.split("|"))
sys.exit(code)
"""


def pcf(tmp_path: Path, blocked: str, *argv_sets: str) -> subprocess.CompletedProcess[str]:
    """Run ``pcf`` commands (``|``-separated argv) in a fresh interpreter; ``--block`` blocks."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PCF_LOG_LEVEL": "ERROR"}
    env.pop("PCF_WAREHOUSE", None)
    return subprocess.run(
        [sys.executable, "-c", RUNNER, blocked, *argv_sets],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_without_duckdb_names_the_extra(tmp_path: Path) -> None:
    wh = f"duckdb:///{tmp_path / 'w.duckdb'}"
    result = pcf(
        tmp_path,
        "duckdb",
        "--block",
        f"status|--start-date|2023-02-15|--end-date|2023-02-20|--warehouse|{wh}",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"pcf status {HINT}"]
    assert not (tmp_path / "w.duckdb").exists()


def test_seed_without_pandas_names_the_extra(tmp_path: Path) -> None:
    wh = f"duckdb:///{tmp_path / 'w.duckdb'}"
    result = pcf(
        tmp_path,
        "pandas,numpy",
        f"init|--warehouse|{wh}",
        "--block",
        f"seed|--synthetic|--warehouse|{wh}",
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"pcf seed {HINT}"


def test_report_without_plotly_names_the_extra(tmp_path: Path) -> None:
    # The warehouse works (duckdb is there); only the report's chart library is missing.
    wh = f"duckdb:///{tmp_path / 'w.duckdb'}"
    out = tmp_path / "r.html"
    result = pcf(
        tmp_path,
        "plotly",
        f"init|--warehouse|{wh}",
        "--block",
        f"report|--start-date|2023-02-15|--end-date|2023-02-20|--out|{out}|--warehouse|{wh}",
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"pcf report {HINT}"
    assert not out.exists()


def test_schedule_without_the_scheduler_client_names_the_extra(tmp_path: Path) -> None:
    result = pcf(tmp_path, "google.cloud.scheduler_v1", "--block", "schedule|show")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"pcf schedule {HINT}"]


def test_a_missing_runtime_module_is_not_disguised(tmp_path: Path) -> None:
    # pydantic is a runtime requirement: its absence is a broken install, not a missing extra.
    result = pcf(tmp_path, "shared.usecases.ledger", "--block", "status")
    assert result.returncode == 1
    assert HINT not in result.stderr
    assert "ModuleNotFoundError" in result.stderr


@pytest.mark.parametrize(
    ("exc", "module"),
    [
        (ModuleNotFoundError("No module named 'duckdb'", name="duckdb"), "duckdb"),
        (
            ImportError(
                "cannot import name 'scheduler_v1' from 'google.cloud' (unknown location)",
                name="google.cloud",
            ),
            "google.cloud.scheduler_v1",
        ),
        (ModuleNotFoundError("No module named 'pydantic'", name="pydantic"), "pydantic"),
    ],
)
def test_missing_module_reads_both_error_shapes(exc: ImportError, module: str) -> None:
    assert missing_module(exc) == module


def test_only_the_local_extras_packages_count() -> None:
    assert is_local_only("pandas")
    assert is_local_only("matplotlib.pyplot")
    assert is_local_only("google.cloud.scheduler_v1")
    assert not is_local_only("google.cloud.bigquery")
    assert not is_local_only("pandas_stubs")
    assert not is_local_only(None)


def test_command_name_skips_options() -> None:
    assert command_name(["--log-level", "ERROR", "backfill", "--dates", "x"]) == "backfill"
    assert command_name(["sql", "SELECT 1"]) == "sql"
    assert command_name(["--help"]) == "(command)"


def test_bigquery_without_credentials_is_one_line_exit_2(tmp_path: Path) -> None:
    # A credentials file that does not exist: google-auth refuses at once, no network involved.
    env_fix = (
        f"import os; os.environ['GOOGLE_APPLICATION_CREDENTIALS'] = {str(tmp_path / 'no.json')!r}"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{env_fix}\nimport sys\nfrom shared.tools.cli import main\n"
            "sys.exit(main(['sql', 'SELECT 1', '--warehouse', 'bigquery://pcf-test']))",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "CLOUDSDK_CONFIG": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("pcf sql: no Google Cloud credentials (")
    assert "gcloud auth application-default login" in line
    assert "no.json" in line


def test_the_distribution_carries_what_pcf_reads_at_run_time() -> None:
    # An installed pcf resolves infra/ and functions/ beside shared/ (config.py, registry.py):
    # `pip install .` must ship the schemas, the topology and every entry point, and no tests.
    import tomllib

    from setuptools import find_namespace_packages  # type: ignore[import-untyped]

    from shared.topology import load_topology

    tool = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    find = tool["setuptools"]["packages"]["find"]
    assert find.get("namespaces") is True
    packages = set(find_namespace_packages(where=str(REPO_ROOT), include=find["include"]))
    assert {"shared", "shared.tools.cli", "infra", "infra.schemas"} <= packages
    assert {f"functions.{fn.name}" for fn in load_topology().functions} <= packages
    assert "*.json" in tool["setuptools"]["package-data"]["*"]
    assert not {p for p in packages if p.startswith(("tests", "infra.terraform"))}
