"""The incident link (RULES §0.4) on the real 2022-23 season: stale UPCG cannot accumulate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from shared.app import App
from shared.config import Settings
from shared.entrypoint import Delivery
from shared.messages import CleanupRequest, ProcessDate
from shared.usecases.cleanup_upcoming import cleanup_upcoming
from shared.warehouse import Sql
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

    (handoff,) = app.bus.messages("validate_coverage")  # type: ignore[attr-defined]
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
