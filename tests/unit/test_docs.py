"""The contract lives in the repo: every rule citation in the code resolves to a heading in docs/,
and every path or module the docs name in backticks exists."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.config import REPO_ROOT

DOCS = REPO_ROOT / "docs"
DOC_FILES = sorted(DOCS.glob("*.md"))
# Documents whose backticked paths and modules must exist: docs/ and the README.
PATH_CHECKED = [*DOC_FILES, REPO_ROOT / "README.md"]
# Where code cites the docs. Text files only; this file is excluded (its patterns are examples).
CITING_DIRS = ("shared", "functions", "tests", "infra")
TEXT_SUFFIXES = {".py", ".md", ".tf", ".sh", ".json", ".mk", ".example", ".txt", ".toml", ".yaml"}
SELF = Path(__file__).resolve()
# Top-level folders whose backticked paths in the docs must exist.
REPO_DIRS = ("functions", "shared", "infra", "tests", "docs")
ROOT_FILE = re.compile(r"^(Makefile|[\w.-]+\.(md|txt|toml|ya?ml|cfg))$")

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?(?:\s|$)")
_SECTION = re.compile(r"§\s?(\d+(?:\.\d+)*)")
_RULES = "RULES" + " §"
_ARCH = "ARCHITECTURE" + " §"
_NAMED = re.compile(r"docs/(\w+\.md), \"([^\"]+)\"")
_INLINE = re.compile(r"`([^`\n]+)`")
_MODULE_REF = re.compile(r"\bshared(?:\.\w+)+")


def headings(text: str) -> list[str]:
    """Markdown heading titles outside fenced code blocks."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            out.append(match.group(2))
    return out


def section_numbers(titles: list[str]) -> set[str]:
    """The section numbers of numbered headings ("2.2 Data-source decision" → "2.2")."""
    return {m.group(1) for t in titles if (m := _NUMBER.match(t))}


def unnumbered(titles: list[str]) -> list[str]:
    """Heading titles without their section number ("4.3 Ledger statuses" → "Ledger statuses")."""
    return [_NUMBER.sub("", t, count=1).strip() for t in titles]


def rule_citations(line: str) -> list[str]:
    """Section numbers a line cites as RULES §x (later bare §y on the line count too)."""
    at = line.find(_RULES)
    return [] if at < 0 else _SECTION.findall(line[at:])


def architecture_citations(line: str) -> list[str]:
    """The text after each ARCHITECTURE §, to be matched against heading titles by prefix."""
    return [line[m.end() :] for m in re.finditer(re.escape(_ARCH), line)]


def unresolved_architecture(cited: str, titles: list[str]) -> bool:
    """Whether no heading title starts the cited text (at a word boundary)."""
    return not any(re.match(re.escape(t) + r"\b", cited) for t in titles)


def citing_files() -> Iterator[Path]:
    """Every text file under the folders that cite the docs."""
    for top in CITING_DIRS:
        for path in sorted((REPO_ROOT / top).rglob("*")):
            if (
                path.is_file()
                and path.suffix in TEXT_SUFFIXES
                and "__pycache__" not in path.parts
                and path.resolve() != SELF
            ):
                yield path


def citing_lines() -> Iterator[tuple[str, str]]:
    """(file:line, text) of every line in the citing folders."""
    for path in citing_files():
        rel = path.relative_to(REPO_ROOT)
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
            yield f"{rel}:{n + 1}", line


def doc_titles(name: str) -> list[str]:
    """Heading titles of docs/<name>."""
    return headings((DOCS / name).read_text(encoding="utf-8"))


def inline_code(text: str) -> list[str]:
    """Inline backticked spans outside fenced code blocks."""
    spans: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            spans.extend(_INLINE.findall(line))
    return spans


def repo_path_problem(span: str, root: Path = REPO_ROOT) -> str | None:
    """Why a backticked span that names a repo path does not resolve (None = fine or not a path)."""
    if any(ch in span for ch in "<>{}… ") or "..." in span:
        return None  # a placeholder or prose, not a path
    first = span.split("/", 1)[0]
    if "/" in span and first in REPO_DIRS:
        pattern = span.rstrip("/")
        found = list(root.glob(pattern)) if "*" in pattern else [root / pattern]
        if not found or not all(p.exists() for p in found):
            return f"`{span}` does not exist"
        return None
    if "/" not in span and ROOT_FILE.match(span) and not (root / span).exists():
        return f"`{span}` is not a file at the repo root"
    return None


def _top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def module_ref_problem(ref: str, root: Path = REPO_ROOT) -> str | None:
    """Why ``shared.a.b[.name]`` is neither a module nor a top-level name of one (None = fine)."""
    parts = ref.split(".")
    for cut in range(len(parts), 0, -1):
        base = root.joinpath(*parts[:cut])
        module = (
            base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        )
        if not module.is_file():
            continue
        rest = parts[cut:]
        if not rest:
            return None
        if len(rest) == 1 and rest[0] in _top_level_names(module):
            return None
        return f"`{ref}`: {'.'.join(parts[:cut])} has no top-level {'.'.join(rest)}"
    return f"`{ref}` is not a module of this repo"


# -- the repo's own docs and citations ------------------------------------------------------


def test_the_three_documents_exist() -> None:
    assert {p.name for p in DOC_FILES} >= {"ARCHITECTURE.md", "RULES.md", "CONTRIBUTING.md"}


def test_every_rules_citation_is_a_numbered_heading() -> None:
    numbers = section_numbers(doc_titles("RULES.md"))
    cited = [(where, n) for where, line in citing_lines() for n in rule_citations(line)]
    assert len(cited) > 30  # the code does cite the rules; a broken scan must not pass
    missing = [f"{where}: RULES §{n}" for where, n in cited if n not in numbers]
    assert missing == [], f"cited sections missing from docs/RULES.md: {missing}"


def test_rules_sections_are_numbered_once() -> None:
    titles = [t for t in doc_titles("RULES.md") if _NUMBER.match(t)]
    numbers = [m.group(1) for t in titles if (m := _NUMBER.match(t))]
    assert len(numbers) == len(set(numbers)), numbers
    assert {
        "0",
        "0.4",
        "1.3",
        "2.1",
        "2.2",
        "2.3",
        "2.4",
        "2.5",
        "3",
        "4",
        "4.3",
        "5",
        "6.1",
    } <= set(numbers)


def test_every_architecture_citation_is_a_heading() -> None:
    titles = doc_titles("ARCHITECTURE.md")
    cited = [(w, c) for w, line in citing_lines() for c in architecture_citations(line)]
    assert cited, "no ARCHITECTURE citation found: the scan is broken"
    missing = [f"{w}: §{c[:30]}" for w, c in cited if unresolved_architecture(c, titles)]
    assert missing == [], f"cited sections missing from docs/ARCHITECTURE.md: {missing}"


def test_named_doc_sections_and_doc_paths_in_code_exist() -> None:
    problems = []
    for where, line in citing_lines():
        for name, title in _NAMED.findall(line):
            if not (DOCS / name).is_file() or title not in unnumbered(doc_titles(name)):
                problems.append(f"{where}: docs/{name}, {title!r}")
        for name in re.findall(r"\bdocs/(\w+\.md)", line):
            if not (DOCS / name).is_file():
                problems.append(f"{where}: docs/{name}")
    assert problems == []


def test_the_code_cites_no_contract_outside_the_repo() -> None:
    # infra/ is not scanned here: infra/terraform is another change's to edit (a tfvars comment
    # there still says "SPEC"); shared, functions and tests must cite docs/ only.
    outside = re.compile(r"\b(SPEC|DESIGN)(\.md)? ?§")
    found = [
        f"{where}: {line.strip()[:80]}"
        for where, line in citing_lines()
        if where.split("/", 1)[0] in ("shared", "functions", "tests") and outside.search(line)
    ]
    assert found == []


@pytest.mark.parametrize("doc", PATH_CHECKED, ids=lambda p: p.name)
def test_every_backticked_path_and_module_in_the_docs_exists(doc: Path) -> None:
    spans = inline_code(doc.read_text(encoding="utf-8"))
    problems = [p for s in spans if (p := repo_path_problem(s))]
    problems += [
        p for s in spans for ref in _MODULE_REF.findall(s) if (p := module_ref_problem(ref))
    ]
    assert problems == [], f"{doc.name}: {problems}"


# -- the checks themselves can fail ---------------------------------------------------------


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    assert rule_citations("# RULES §2.3 / §6.1 windows; the §2.5 numbers") == ["2.3", "6.1", "2.5"]
    assert rule_citations("see §2.3 of nothing") == []
    assert section_numbers(headings("## 4.3 Ledger statuses\n```\n## 9.9 fenced\n```")) == {"4.3"}
    titles = ["Contracts", "Where it runs"]
    assert not unresolved_architecture("Where it runs; not re-tested)", titles)
    assert not unresolved_architecture("Contracts: bad input", titles)
    assert unresolved_architecture("Deployment)", titles)
    assert unresolved_architecture("Contractsx", titles)

    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "x.py").write_text("def f():\n    pass\nY = 1\n")
    assert repo_path_problem("shared/x.py", tmp_path) is None
    assert repo_path_problem("shared/y.py", tmp_path) == "`shared/y.py` does not exist"
    assert repo_path_problem("shared/*.py", tmp_path) is None
    assert repo_path_problem("functions/<name>/main.py", tmp_path) is None
    assert repo_path_problem("README.md", tmp_path) == "`README.md` is not a file at the repo root"
    assert module_ref_problem("shared.x.f", tmp_path) is None
    assert module_ref_problem("shared.x.Y", tmp_path) is None
    assert module_ref_problem("shared.x.g", tmp_path) == "`shared.x.g`: shared.x has no top-level g"
    assert module_ref_problem("shared.z", tmp_path) == "`shared.z` is not a module of this repo"
