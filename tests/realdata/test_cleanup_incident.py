"""The incident link (RULES §0.4) on the real 2022-23 season: stale UPCG cannot accumulate."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shared.app import App
from shared.config import Settings
from shared.entrypoint import Delivery
from shared.messages import CleanupRequest, ProcessDate, ValidateCoverage
from shared.usecases.cleanup_upcoming import cleanup_upcoming
from shared.warehouse import Sql
from tests.fakes import local_bus
from tests.unit.cleanup.conftest import UPCG, UTCG, make_app, per_date

pytestmark = pytest.mark.realdata

CUTOFF = date(2023, 2, 26)  # 2023-03-05 − 7 days
INCIDENT = date(2023, 2, 23)


@pytest.fixture(scope="module")
def season() -> Iterator[App]:
    """The real season seeded once, with the incident injected (1 of 187 UPCG players)."""
    data_dir = Settings().data_dir
    if not (data_dir / "schedule_2022_23.csv").is_file():
        pytest.skip(f"real 2022-23 season not found at {data_dir} (set PCF_DATA_DIR)")
    try:
        from shared.tools.seed import derive_tables  # noqa: F401 - the loader must be there
    except ImportError:
        pytest.skip("shared.tools.seed.derive_tables is not available")
    from shared.tools.seed.load import seed

    app = make_app()
    seed(app, data_dir, {INCIDENT: 1})
    yield app
    app.close()


def below(app: App, table: str) -> int:
    return sum(n for d, n in per_date(app.warehouse, table).items() if d < CUTOFF)


def test_stale_season_is_refused_then_cleaned_and_processing_still_falls_back(
    season: App,
) -> None:
    app = season
    before_upcg, before_utcg = per_date(app.warehouse, UPCG), per_date(app.warehouse, UTCG)
    assert before_upcg[INCIDENT] == 1  # the stale row of the incident
    assert (below(app, UPCG), below(app, UTCG)) == (18970, 1816)
    today = date(2023, 3, 5)

    # Most of the season is older than the cutoff: the runaway guard refuses, nothing goes.
    refused = cleanup_upcoming(app, CleanupRequest(today=today), Delivery("m-1", 1, None, {}))
    assert [t.status for t in refused.tables] == ["refused", "refused"]
    assert "18970 of 25706 rows (73.8%)" in str(refused.tables[0].detail)
    assert per_date(app.warehouse, UPCG) == before_upcg
    assert per_date(app.warehouse, UTCG) == before_utcg

    # Said on purpose: everything before 2023-02-26 goes, the stale 2023-02-23 row included.
    done = cleanup_upcoming(
        app, CleanupRequest(today=today, allow_large_delete=True), Delivery("m-2", 1, None, {})
    )
    upcg, utcg = done.tables
    assert (upcg.status, upcg.stale_rows, upcg.backup_rows, upcg.deleted_rows) == (
        "deleted",
        18970,
        18970,
        18970,
    )
    assert (utcg.status, utcg.backup_rows, utcg.deleted_rows) == ("deleted", 1816, 1816)
    assert (below(app, UPCG), below(app, UTCG)) == (0, 0)
    after = per_date(app.warehouse, UPCG)
    assert after == {d: n for d, n in before_upcg.items() if d >= CUTOFF}
    assert min(after) == CUTOFF
    # The backup is kept and holds the incident's stale row.
    backup = per_date(app.warehouse, str(upcg.backup_table))
    assert backup == {d: n for d, n in before_upcg.items() if d < CUTOFF}
    assert backup[INCIDENT] == 1

    # With UPCG now empty on 2023-02-23, processing still writes all 187 players from PGS.
    from shared.usecases.process_date import process_date

    result = process_date(
        app, ProcessDate(run_id="r-incident", game_date=INCIDENT), Delivery("m-3", 1, None, {})
    )
    assert (result.upcg_players, result.expected_players) == (0, 187)
    assert (result.data_source, result.rows_written) == ("PGS_SYNTHETIC", 187)
    # Staged only; the audit publishes it (this bus has no subscribers: run it here).
    from shared.usecases.validate_coverage import validate_coverage

    (handoff,) = local_bus(app).messages("validate_coverage")
    assert isinstance(handoff, ValidateCoverage)
    assert validate_coverage(app, handoff, Delivery("m-4", 1, None, {})).status == "succeeded"
    [row] = app.warehouse.query(
        Sql(
            "t",
            "SELECT COUNT(*) AS n FROM {player_composite_factors} WHERE game_date = @d",
            {"d": "DATE"},
        ),
        {"d": INCIDENT},
    )
    assert row["n"] == 187


# -- issue 11: overlapping runs and the undo, on the real season ---------------------------------


def fingerprint(app: App, table: str) -> tuple[int, str]:
    """(rows, sha256 over every row's every column, sorted): equal iff the multisets are."""
    import hashlib

    from tests.unit.cleanup.conftest import all_rows

    rows = all_rows(app.warehouse, table)
    digest = hashlib.sha256("\n".join(repr(r) for r in rows).encode()).hexdigest()
    return len(rows), digest


@pytest.fixture
def season_file(real_seeded_file: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded real season (what `pcf seed --real` makes)."""
    path = tmp_path / "season.duckdb"
    shutil.copy(real_seeded_file, path)
    return path


def open_file(path: Path) -> App:
    from shared.app import build_app
    from shared.tools.local_bus import LocalBus

    return build_app(Settings(warehouse=f"duckdb:///{path}"), bus=LocalBus())


def pcf_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    from shared.tools.cli.main import main

    assert main([*args, "--json"]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)["data"]
    return doc


def test_cleanup_then_restore_gives_back_the_exact_season(
    season_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = open_file(season_file)
    try:
        before = {t: fingerprint(app, t) for t in (UPCG, UTCG)}
    finally:
        app.close()
    # The untouched season: 25,892 UPCG rows (25,706 with the incident injected above).
    assert (before[UPCG][0], before[UTCG][0]) == (25892, 2460)
    wh = ["--warehouse", f"duckdb:///{season_file}"]

    done = pcf_json(["cleanup", "--today", "2023-03-05", "--allow-large-delete", *wh], capsys)
    # 19,156 = the 18,970 stale rows above with all 187 players on 2023-02-23 instead of 1.
    assert [(t["status"], t["deleted_rows"]) for t in done["tables"]] == [
        ("deleted", 19156),
        ("deleted", 1816),
    ]
    first = pcf_json(["cleanup", "restore", "--cleanup-id", done["cleanup_id"], *wh], capsys)
    assert [(t["status"], t["restored_rows"]) for t in first["tables"]] == [
        ("restored", 19156),
        ("restored", 1816),
    ]
    app = open_file(season_file)
    try:
        assert {t: fingerprint(app, t) for t in (UPCG, UTCG)} == before
    finally:
        app.close()
    second = pcf_json(["cleanup", "restore", "--cleanup-id", done["cleanup_id"], *wh], capsys)
    assert [t["restored_rows"] for t in second["tables"]] == [0, 0]
    app = open_file(season_file)
    try:
        assert fingerprint(app, UPCG) == before[UPCG]
    finally:
        app.close()


def test_an_overlapping_run_cannot_replace_the_backup_of_2460_utcg_rows(
    season_file: Path,
) -> None:
    """Issue 11's interleaving: A backs up and deletes all 2,460 UTCG rows; B starts before A's
    backup exists and again after A's delete."""
    app = open_file(season_file)
    try:
        before = fingerprint(app, UTCG)
        req = CleanupRequest(today=date(2023, 6, 1), tables=[UTCG], allow_large_delete=True)
        others: list[Any] = []

        def run_b(step: str, _outcome: Any) -> None:
            if step in ("intent", "delete"):
                others.append(cleanup_upcoming(app, req, Delivery("m-b", 1, None, {})))

        a = cleanup_upcoming(app, req, Delivery("m-a", 1, None, {}), hook=run_b)
        [a_utcg] = a.tables
        assert (a_utcg.status, a_utcg.backup_rows, a_utcg.deleted_rows) == ("deleted", 2460, 2460)
        assert [b.tables[0].status for b in others] == ["skipped_locked", "skipped_locked"]
        assert all(b.tables[0].backup_table is None for b in others)
        assert sum(per_date(app.warehouse, str(a_utcg.backup_table)).values()) == 2460
        recorded = app.warehouse.query(
            Sql(
                "t.runs",
                "SELECT cleanup_id, status, backup_rows, deleted_rows FROM {cleanup_runs} "
                "WHERE run_date = @d ORDER BY started_at, cleanup_id",
                {"d": "DATE"},
            ),
            {"d": date(2023, 6, 1)},
        )
        assert {(r["cleanup_id"], r["status"], r["deleted_rows"]) for r in recorded} == {
            (a.cleanup_id, "deleted", 2460),
            *((b.cleanup_id, "skipped_locked", None) for b in others),
        }
        restore = CleanupRequest(action="restore", cleanup_id=a.cleanup_id)
        cleanup_upcoming(app, restore, Delivery("m-r", 1, None, {}))
        assert fingerprint(app, UTCG) == before
    finally:
        app.close()
