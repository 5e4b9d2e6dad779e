"""Footprint benchmark: one staged Cloud Function against a bare baseline, side by side.

Run from the repository root::

    python -m tests.bench.footprint [--function process_date] [--runs 7] [--rebuild]

Two virtualenvs are built once and cached under ``.pcf/bench/`` (rebuilt when their
requirements change, or with ``--rebuild``):

* **baseline** — only functions-framework, google-cloud-bigquery, google-cloud-pubsub, pydantic
  and pydantic-settings, at the versions pinned in ``requirements.txt``;
* **function** — what ``infra/build.sh <function>`` stages, installed from the staged
  ``requirements.txt`` exactly as Cloud Build would.

Printed: installed size (site-packages without pip/setuptools, plus the staged source for the
function), and the median over ``--runs`` fresh interpreters of the cold ``import main`` time and
the process's peak RSS, against importing the bare baseline libraries. Targets: size ≤ 1.1×,
time and RSS ≤ 1.2× the baseline. When a target is missed, the modules or packages the function
adds over the baseline are listed (the usual cause is a heavy import in the runtime). Exit
status: 0 when every target is met, 1 when one is missed, 2 on a usage or setup error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import REPO_ROOT
from shared.topology import load_topology

CACHE = REPO_ROOT / ".pcf" / "bench"
BASELINE_PACKAGES = (
    "functions-framework",
    "google-cloud-bigquery",
    "google-cloud-pubsub",
    "pydantic",
    "pydantic-settings",
)
# What the bare baseline imports: the same libraries a function's runtime is built on.
BASELINE_IMPORTS = (
    "functions_framework",
    "google.cloud.bigquery",
    "google.cloud.pubsub_v1",
    "pydantic",
    "pydantic_settings",
)
# A function's adapters are imported on its first message, not by `import main`; measured too.
ADAPTERS = ("shared.warehouse.bigquery", "shared.bus.pubsub")
TARGETS = {"size": 1.1, "time": 1.2, "rss": 1.2}
# Installer tooling every venv has and no Cloud Function ships.
INSTALLER = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "wheel")
MIB = 1024 * 1024

PROBE = """
import json, resource, sys, time
names = sys.argv[1:]
before = set(sys.modules)
start = time.perf_counter()
for name in names:
    __import__(name)
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "modules": sorted(set(sys.modules) - before),
}))
"""


class SetupError(RuntimeError):
    """The benchmark could not build what it measures."""


@dataclass(frozen=True)
class Probe:
    """The medians of one import measured in fresh interpreters."""

    seconds: float
    rss_mib: float
    modules: list[str]


def pinned(requirements: Path, names: tuple[str, ...]) -> list[str]:
    """The ``name==version`` lines of ``requirements`` for ``names`` (every one must be pinned)."""
    pins: dict[str, str] = {}
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        name, sep, _ = line.partition("==")
        if sep and name.strip().lower() in names:
            pins[name.strip().lower()] = line
    missing = [n for n in names if n not in pins]
    if missing:
        raise SetupError(f"{requirements} does not pin {', '.join(missing)} (name==version)")
    return [pins[n] for n in names]


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtualenv."""
    return venv / "bin" / "python"


def ensure_venv(venv: Path, requirements: list[str], rebuild: bool) -> Path:
    """A virtualenv holding exactly ``requirements``, reused while they are unchanged."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:16]
    stamp = venv / ".bench-requirements"
    if not rebuild and stamp.is_file() and stamp.read_text() == key:
        return venv_python(venv)
    shutil.rmtree(venv, ignore_errors=True)
    print(f"building {venv.relative_to(REPO_ROOT)} ({len(requirements)} requirements)…")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv_python(venv))
    cmd = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SetupError(f"pip install failed for {venv.name}:\n{result.stderr[-2000:]}")
    stamp.write_text(key)
    return venv_python(venv)


def stage(function: str, build_dir: Path) -> Path:
    """Run ``infra/build.sh <function>`` into ``build_dir``; return the staged folder."""
    env = {**os.environ, "BUILD_DIR": str(build_dir), "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "infra" / "build.sh"), function],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SetupError(f"infra/build.sh {function} failed:\n{result.stderr}")
    return build_dir / function


def requirement_lines(path: Path) -> list[str]:
    """The requirement specifiers of a requirements file (comments and blanks dropped)."""
    lines = [raw.split("#", 1)[0].strip() for raw in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line]


def tree_bytes(path: Path, skip_top: tuple[str, ...] = ()) -> int:
    """Bytes of every file under ``path``, leaving out top-level entries starting with a skip
    name and ``__pycache__`` folders of a staged source (the deploy ignores them)."""
    total = 0
    for entry in path.iterdir():
        if skip_top and entry.name.split("-", 1)[0].split(".", 1)[0] in skip_top:
            continue
        if entry.is_symlink():
            continue
        if entry.is_dir():
            total += sum(
                f.stat().st_size
                for f in entry.rglob("*")
                if f.is_file() and not f.is_symlink() and "__pycache__" not in f.parts[-2:-1]
            )
        elif entry.is_file():
            total += entry.stat().st_size
    return total


def site_packages(python: Path) -> Path:
    """The site-packages folder of an interpreter."""
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def packages_by_size(site: Path) -> dict[str, int]:
    """Top-level entries of site-packages and their sizes (dist-info folders excluded)."""
    sizes: dict[str, int] = {}
    for entry in site.iterdir():
        if entry.name.endswith((".dist-info", ".pth")) or entry.name == "__pycache__":
            continue
        size = (
            sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
            if entry.is_dir()
            else entry.stat().st_size
        )
        sizes[entry.name] = size
    return sizes


def _probe_once(python: Path, cwd: Path, names: list[str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PCF_", "PYTHON"))}
    out = subprocess.run(
        [str(python), "-s", "-c", PROBE, *names],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SetupError(f"importing {names} in {cwd} failed:\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def probe(cases: dict[str, tuple[Path, Path, list[str]]], runs: int) -> dict[str, Probe]:
    """Median import time and peak RSS per case (python, cwd, modules) over ``runs`` fresh
    interpreters each. Rounds interleave the cases, so load from other processes on the
    machine falls on all of them alike."""
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for i in range(runs + 1):
        for name, (python, cwd, names) in cases.items():
            sample = _probe_once(python, cwd, names)
            if i:  # the first round writes byte code for the staged source: not a cold start
                samples[name].append(sample)
    return {
        name: Probe(
            seconds=statistics.median(s["seconds"] for s in got),
            rss_mib=statistics.median(s["rss_kib"] for s in got) / 1024,
            modules=got[-1]["modules"],
        )
        for name, got in samples.items()
    }


def ratio_line(label: str, base: float, fn: float, target: float, fmt: str) -> tuple[str, bool]:
    """One printed row and whether it met its target."""
    ratio = fn / base if base else float("inf")
    ok = ratio <= target
    row = (
        f"{label:<30}{format(base, fmt):>10}{format(fn, fmt):>10}{ratio:>8.2f}"
        f"   ≤ {target:.1f}×  {'ok' if ok else 'MISSED'}"
    )
    return row, ok


def extra_modules(fn: Probe, base: Probe) -> list[str]:
    """Top-level packages the function imports that the bare baseline does not."""
    tops = {m.split(".")[0] for m in fn.modules} - {m.split(".")[0] for m in base.modules}
    return sorted(tops - {"main", "shared"})


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) both venvs, measure, print the table; exit 1 when a target is missed."""
    functions = [f.name for f in load_topology().functions]
    parser = argparse.ArgumentParser(prog="python -m tests.bench.footprint", description=__doc__)
    parser.add_argument("--function", default="process_date", choices=functions)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per median (≥5)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached venvs")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    try:
        base_py = ensure_venv(
            CACHE / "baseline-venv",
            pinned(REPO_ROOT / "requirements.txt", BASELINE_PACKAGES),
            args.rebuild,
        )
        staged = stage(args.function, CACHE / "build")
        fn_py = ensure_venv(
            CACHE / "function-venv",  # every function stages the same requirements.txt
            requirement_lines(staged / "requirements.txt"),
            args.rebuild,
        )
        base_site, fn_site = site_packages(base_py), site_packages(fn_py)
        base_size = tree_bytes(base_site, INSTALLER) / MIB
        code_size = tree_bytes(staged) / MIB
        fn_size = tree_bytes(fn_site, INSTALLER) / MIB + code_size
        probes = probe(
            {
                "base": (base_py, CACHE, list(BASELINE_IMPORTS)),
                "fn": (fn_py, staged, ["main"]),
                "fn_first": (fn_py, staged, ["main", *ADAPTERS]),
            },
            args.runs,
        )
        base, fn, fn_first = probes["base"], probes["fn"], probes["fn_first"]
    except (SetupError, subprocess.CalledProcessError) as exc:
        print(f"footprint: {exc}", file=sys.stderr)
        return 2

    print(
        f"\nfootprint of the staged function {args.function} vs a bare baseline venv "
        f"(medians of {args.runs} fresh interpreters)"
    )
    print(f"{'':<30}{'baseline':>10}{'function':>10}{'ratio':>8}   target")
    rows = [
        ratio_line("installed size (MB)", base_size, fn_size, TARGETS["size"], ".1f"),
        ratio_line("cold import main (s)", base.seconds, fn.seconds, TARGETS["time"], ".3f"),
        ratio_line("peak RSS, import main (MiB)", base.rss_mib, fn.rss_mib, TARGETS["rss"], ".1f"),
    ]
    for row, _ in rows:
        print(row)
    print(
        f"  staged source {code_size:.2f} MB ({len(list(staged.rglob('*.py')))} .py files); "
        f"import main + adapters ({', '.join(ADAPTERS)}): {fn_first.seconds:.3f} s, "
        f"{fn_first.rss_mib:.1f} MiB ({fn_first.seconds / base.seconds:.2f}×, "
        f"{fn_first.rss_mib / base.rss_mib:.2f}× the baseline)"
    )
    met = all(ok for _, ok in rows)
    if not rows[0][1]:
        extra = packages_by_size(fn_site).items() - packages_by_size(base_site).items()
        heavy = sorted(extra, key=lambda kv: -kv[1])[:8]
        print(
            "  size: the function installs beyond the baseline: "
            + ", ".join(f"{name} {size / MIB:.1f} MB" for name, size in heavy)
        )
    if not (rows[1][1] and rows[2][1]):
        print(
            "  import: top-level packages main imports that the baseline does not: "
            + (", ".join(extra_modules(fn, base)) or "(none: the difference is the runtime's own)")
        )
    print("all footprint targets met" if met else "a footprint target was MISSED (see above)")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
