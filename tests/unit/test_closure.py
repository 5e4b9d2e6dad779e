"""What a function imports is all it ships: its import closure never reaches the local tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import REPO_ROOT
from shared.tools.closure import closure, files, leaks, main
from shared.topology import load_topology

FUNCTIONS = [fn.name for fn in load_topology().functions]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_closure_is_runtime_only(function: str) -> None:
    modules = closure(REPO_ROOT / "functions" / function / "main.py")
    assert leaks(modules) == []
    # The spine and the function's own use case are in; no DuckDB/local-bus/CLI module is.
    assert {"shared.entrypoint", "shared.messages", "shared.warehouse.bigquery"} <= set(modules)
    assert any(m.startswith("shared.usecases.") for m in modules)
    assert not any(m.startswith(("shared.tools", "shared.sql.seed")) for m in modules)


def _tree(root: Path, runtime_imports: str) -> Path:
    (root / "shared" / "tools").mkdir(parents=True)
    (root / "shared" / "__init__.py").write_text("")
    (root / "shared" / "tools" / "__init__.py").write_text("")
    (root / "shared" / "tools" / "cli.py").write_text("import pandas\n")
    (root / "shared" / "app.py").write_text(runtime_imports)
    entry = root / "functions" / "f" / "main.py"
    entry.parent.mkdir(parents=True)
    entry.write_text("from shared.app import run\n")
    return entry


def test_a_runtime_module_importing_a_tool_is_caught(tmp_path: Path) -> None:
    # A lazy import inside a function body counts: it would ship (and fail) all the same.
    entry = _tree(tmp_path, "def run():\n    from shared.tools import cli\n")
    modules = closure(entry, root=tmp_path)
    assert leaks(modules) == ["shared.tools", "shared.tools.cli"]


def test_a_clean_tree_has_no_leak_and_lists_files(tmp_path: Path) -> None:
    entry = _tree(tmp_path, "import json\n")
    modules = closure(entry, root=tmp_path)
    assert modules == ["shared", "shared.app"]
    assert files(modules, root=tmp_path) == [Path("shared/__init__.py"), Path("shared/app.py")]


def test_cli_prints_the_files_and_refuses_unknown_functions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["process_date"]) == 0
    printed = capsys.readouterr().out.split()
    assert "shared/usecases/process_date.py" in printed
    assert not any(p.startswith("shared/tools") for p in printed)
    assert main(["no_such_function"]) == 2
