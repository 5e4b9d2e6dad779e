"""``pcf explain`` and the HTML report after the demo's blocked → forced → fixed sequence.

The report is opened in a real headless Chromium: the rendered DOM must hold the summary counts
and every blocked/forced date, and a screenshot must be produced.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings
from shared.tools.cli.explain import next_steps
from shared.tools.cli.main import main
from shared.warehouse import Sql

INCIDENT, NEXT = "2023-02-23", "2023-02-24"
RANGE = ("2023-02-10", "2023-03-08")  # wider than the demo's backfill: dates never run too
PGS = Sql(
    "test.pgs_players",
    "SELECT COUNT(DISTINCT player_lookup) AS n FROM {player_game_summary} WHERE game_date = @d",
    {"d": "DATE"},
)
REASON = "demo: accepting partial UPCG knowingly"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run pcf in-process: (exit code, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A warehouse after ``make demo`` (synthetic season, blocked → forced → fixed)."""
    from shared.tools import demo

    folder = tmp_path_factory.mktemp("demo")
    url = f"duckdb:///{folder / 'demo.duckdb'}"
    logger = logging.getLogger("pcf")
    handlers, level = list(logger.handlers), logger.level
    try:
        assert demo.main(["--warehouse", url, "--report", str(folder / "demo.html")]) == 0
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
    return url


def expected_players(url: str, day: str) -> int:
    from shared.app import build_app
    from shared.tools.local_bus import LocalBus

    app = build_app(Settings(warehouse=url), bus=LocalBus(workers=1))
    try:
        return int(app.warehouse.query(PGS, {"d": date.fromisoformat(day)})[0]["n"])
    finally:
        app.close()


def test_explain_shows_every_run_in_order(
    demo_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = expected_players(demo_url, INCIDENT)
    code, out, _ = cli(capsys, "explain", INCIDENT, "--json", "--warehouse", demo_url)
    assert code == 0
    doc = json.loads(out)["data"]
    runs = doc["runs"]
    # The demo: backfill with the fallback, the pinned replay (blocked), the override (forced),
    # the fix (fallback again). Dispatch order.
    assert [(r["status"], r["data_source"]) for r in runs] == [
        ("succeeded", "PGS_SYNTHETIC"),
        ("blocked", "UPCG"),
        ("forced", "UPCG"),
        ("succeeded", "PGS_SYNTHETIC"),
    ]
    # Each run's steps, oldest first (the append-only ledger keeps them), end in its state.
    assert [[s["status"] for s in r["steps"]] for r in runs] == [
        ["queued", "processing", "written", status] for status in [r["status"] for r in runs]
    ]
    blocked, forced, fixed = runs[1:]
    # The demo kept 1 UPCG player on the incident date: everyone else is missing.
    assert (blocked["expected_players"], blocked["actual_players"]) == (expected, 1)
    assert blocked["missing_players"] == expected - 1
    assert blocked["coverage_pct"] == round(100 / expected, 1)
    assert blocked["forced"] is False
    assert blocked["force_reason"] is None
    assert (forced["forced"], forced["force_reason"], forced["requested_by"]) == (
        True,
        REASON,
        "demo-operator",
    )
    assert (fixed["actual_players"], fixed["missing_players"]) == (expected, 0)
    # Why each source was chosen: recorded by the ledger writer, else re-derived by the rule.
    pct = round(100 / expected, 1)
    seen = f"UPCG has 1/{expected} players ({pct}%) < 90% of expected"
    why = [r["source_reason"] or r["source_reason_derived"] for r in runs]
    if runs[0]["source_reason"] is None:
        assert why == [
            f"upcg_partial: {seen}",
            f"pinned to UPCG: {seen}",
            f"pinned to UPCG: {seen}",
            f"upcg_partial: {seen}",
        ]
    else:
        starts = ("upcg_partial", "pinned", "pinned", "upcg_partial")
        assert all(w.startswith(p) for w, p in zip(why, starts, strict=True)), why
    assert (doc["expected_players"], doc["live_players"], doc["missing_live"]) == (
        expected,
        expected,
        [],
    )
    assert doc["live_by_run"] == [
        {"run_id": fixed["run_id"], "data_source": "PGS_SYNTHETIC", "players": expected}
    ]
    assert doc["next"] == [f"nothing to do: succeeded, all {expected} expected players are live"]

    code, text, _ = cli(capsys, "explain", INCIDENT, "--warehouse", demo_url)
    assert code == 0
    rows = [line.split() for line in text.splitlines() if re.match(r"^\d+ ", line)]
    assert [(r[0], r[4]) for r in rows] == [
        ("1", "succeeded"),
        ("2", "blocked"),
        ("3", "forced"),
        ("4", "succeeded"),
    ]
    assert f"yes: {REASON}" in text
    assert str(expected - 1) in rows[1]  # the blocked run's missing players
    assert f"missing from the live table: 0 of {expected} expected" in text


def test_next_steps_say_what_to_do() -> None:
    s = Settings()
    d = date(2023, 2, 23)
    blocked = {"run_id": "r", "status": "blocked", "coverage_pct": 0.5}
    steps = next_steps(d, [blocked], 9, 187, 0, s)
    assert steps[0].startswith("coverage 0.5 % is below the gate (90 %)")
    assert steps[1].endswith("pcf backfill --dates 2023-02-23 --rerun failed")
    assert "--force" in steps[2]
    assert next_steps(d, [], 0, 0, 0, s) == [
        "nothing to do: no games were scheduled on this date (off-day)"
    ]
    assert next_steps(d, [], 9, 187, 0, s) == ["never run: pcf backfill --dates 2023-02-23"]
    forced = {"run_id": "r", "status": "forced", "force_reason": "INC-42"}
    assert next_steps(d, [forced], 9, 187, 1, s) == [
        "checkpointed with the gate overridden (INC-42): 186 of 187 expected players are not "
        "in the live table",
        "restore full coverage: pcf backfill --dates 2023-02-23 --rerun all",
    ]
    queued = {"run_id": "r", "status": "queued"}
    assert "--rerun missing" in next_steps(d, [queued], 9, 187, 0, s)[0]


# -- the report ---------------------------------------------------------------------------------
def chromium() -> str:
    """The headless browser, or skip (locally only: CI installs it in .ci/run)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: .ci/run installs the Debian package")
    pytest.skip(
        "no chromium on this machine (apt-get install -y chromium); CI installs it and runs this"
    )


def browse(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a local file (no network, no profile)."""
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp / 'profile'}",
            "--window-size=1400,2400",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def report(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The report of RANGE written by ``pcf report`` and the data it was made from."""
    from shared.app import build_app
    from shared.tools.local_bus import LocalBus
    from shared.tools.report import collect

    out = tmp_path_factory.mktemp("report") / "season.html"
    logger = logging.getLogger("pcf")
    handlers, level = list(logger.handlers), logger.level
    try:
        assert (
            main(["report", "--start-date", RANGE[0], "--end-date", RANGE[1], "--out", str(out),
                  "--warehouse", demo_url])
            == 0
        )  # fmt: skip
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
    app = build_app(Settings(warehouse=demo_url), bus=LocalBus(workers=1))
    try:
        data = collect(app, date.fromisoformat(RANGE[0]), date.fromisoformat(RANGE[1]))
    finally:
        app.close()
    return out, data


def test_report_is_self_contained(report: tuple[Path, Any]) -> None:
    page, data = report
    text = page.read_text(encoding="utf-8")
    # No network needed: no external script, stylesheet or image.
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?:""", text)
    assert "Plotly" in text
    counts = data.counts()
    # The demo range is checkpointed; before and after it the dates were never run; the
    # All-Star break is off-days, not "not run".
    assert counts["succeeded"] == 13
    assert counts["off-day"] == 6
    assert counts["not run"] == len(data.days) - 19
    assert data.forced_dates() == [date(2023, 2, 23), date(2023, 2, 24)]


def test_report_renders_in_headless_chromium(report: tuple[Path, Any], tmp_path: Path) -> None:
    page, data = report
    done = browse(page, tmp_path, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    # Plotly ran: the chart's SVG exists in the rendered DOM.
    assert 'class="main-svg"' in dom
    for status, n in data.counts().items():
        assert f'data-count="{status}">{n}<' in dom
    assert f'data-total="dates">{len(data.days)}<' in dom
    blocked = re.search(r"id=\"blocked-dates\">([^<]*)<", dom)
    forced = re.search(r"id=\"forced-dates\">([^<]*)<", dom)
    assert blocked
    assert blocked.group(1) == f"{INCIDENT}, {NEXT}"
    assert forced
    assert forced.group(1) == f"{INCIDENT}, {NEXT}"
    for day in (INCIDENT, NEXT):
        # Its calendar cell (outlined: it had a forced run) and its open history.
        assert re.search(rf'class="cell s-succeeded forced" href="#d-{day}"', dom)
        details = re.search(rf'<details id="d-{day}"[^>]*open[^>]*>(.*?)</details>', dom, re.S)
        assert details, day
        history = details.group(1)
        assert [m for m in re.findall(r'<tr class="s-(\w+)">', history)] == [
            "succeeded",
            "blocked",
            "forced",
            "succeeded",
        ]
        assert REASON in history
    for day in ("2023-02-17", "2023-02-20"):  # the All-Star break: off-days
        assert re.search(rf'href="#d-{day}" [^>]*data-status="off-day"', dom)
    assert re.search(r'href="#d-2023-02-10" [^>]*data-status="not run"', dom)
    assert "gate: block below 90 %" in dom
    assert "warn below 95 %" in dom

    shot = tmp_path / "report.png"
    done = browse(page, tmp_path, f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000


def test_piped_backfill_ends_with_a_summary_line(
    demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.duckdb"  # the other tests read the demo's history as it was
    shutil.copy(demo_url.removeprefix("duckdb:///"), copy)
    # Over the All-Star break: 2 game dates to process, 6 off-days skipped at planning.
    code, out, _ = cli(
        capsys, "backfill", "--start-date", "2023-02-16", "--end-date", "2023-02-23",
        "--rerun", "all", "--warehouse", f"duckdb:///{copy}",
    )  # fmt: skip
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"done: 8/8 dates final in \d+\.\ds \(\d+\.\d dates/s processed\)", last)
    assert "totals: skipped_no_games 6, succeeded 2" in out
