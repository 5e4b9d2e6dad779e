"""The import closure of a function's ``main.py`` inside ``shared/``: exactly what it ships.

``infra/build.sh`` stages these files and nothing else; a test fails when the closure of any
function reaches ``shared.tools`` (the local tools are never deployed). Imports are read
statically (every ``import``/``from … import`` anywhere in a module, lazy ones included), so a
module that is only imported inside a function body still ships.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from shared.config import REPO_ROOT

TOOLS_PACKAGE = "shared.tools"


def module_file(root: Path, module: str) -> Path | None:
    """The file of ``module`` under ``root`` (a package's ``__init__.py``), or None."""
    base = root.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imports(path: Path, package: str) -> Iterable[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(p for p in [*parts, node.module or ""] if p)
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def closure(entry: Path, root: Path = REPO_ROOT, top: str = "shared") -> list[str]:
    """Every ``top.*`` module reachable from ``entry`` (parents included), sorted."""
    seen: set[str] = set()
    todo: list[tuple[Path, str]] = [(entry, "")]
    while todo:
        path, package = todo.pop()
        for name in _imports(path, package):
            if name != top and not name.startswith(f"{top}."):
                continue
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                module = ".".join(parts[:i])
                if module in seen:
                    continue
                found = module_file(root, module)
                if found is None:
                    continue  # an attribute (`from shared.x import name`), not a module
                seen.add(module)
                is_pkg = found.name == "__init__.py"
                todo.append((found, module if is_pkg else module.rpartition(".")[0]))
    return sorted(seen)


def leaks(modules: Iterable[str]) -> list[str]:
    """The modules of a closure that belong to the local tools (must be empty)."""
    return [m for m in modules if m == TOOLS_PACKAGE or m.startswith(f"{TOOLS_PACKAGE}.")]


def files(modules: Iterable[str], root: Path = REPO_ROOT) -> list[Path]:
    """Repo-relative files of the given modules."""
    out = []
    for module in modules:
        found = module_file(root, module)
        if found is not None:
            out.append(found.relative_to(root))
    return sorted(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the repo-relative files a function ships; exit 1 if its closure reaches the tools."""
    parser = argparse.ArgumentParser(prog="python -m shared.tools.closure", description=__doc__)
    parser.add_argument("function", help="a folder name under functions/")
    args = parser.parse_args(argv)
    entry = REPO_ROOT / "functions" / args.function / "main.py"
    if not entry.is_file():
        print(f"closure: functions/{args.function}/main.py not found", file=sys.stderr)
        return 2
    modules = closure(entry)
    bad = leaks(modules)
    if bad:
        print(
            f"closure: functions/{args.function} imports local tools {bad}: the runtime must not "
            "depend on shared.tools (see docs/ARCHITECTURE.md)",
            file=sys.stderr,
        )
        return 1
    for path in files(modules):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
