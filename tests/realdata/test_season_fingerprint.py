"""Every output row of a whole season stays exactly as it was before the throughput work.

The recorded fingerprints (tests/bench/fingerprint.py: SHA-256 over every output row sorted by
date and player, all columns but run_id/processed_at) were obtained on 2026-12-02 by running these
very tests against commit 44f0d81 (main before issue 13: per-date process_date, pandas staging,
per-row JSON/hash/Decimal) and pasting the printed values. A change that alters any value, source,
context JSON or data_hash of any row fails here (and the set-based floor must agree on every
row's numbers); an intended output change needs a
calculation_version bump and a new recording (say how it was obtained, as above).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shared.tools.render_pool import ProcessPoolRenderer
from tests.bench.fingerprint import full_backfill, output_fingerprint
from tests.bench.floor import measure
from tests.conftest import make_app

# Real 2022-23 season, one backfill over all game dates (auto source: UPCG, PGS where needed).
REAL_AUTO = (23627, "1fdc0d9f649f0328381edbccaacbb9703d0308a1aee2a6c1effcc9ef0c0c0f5a")
# The same, every date pinned to the PGS-synthesized context (source=synthetic).
REAL_PGS = (23627, "3702f533c64513b590028d09947568a22c0ae38f27a5eaab15d757cb4e2628a5")
# The deterministic synthetic season (seed 7), auto source.
SYNTHETIC_AUTO = (24339, "8a2a75f941eab5a4040f375498ac516299566b16517f877df4f682b903f1d4f5")


def _backfill_and_check(
    seeded: Path, tmp_path: Path, source: str, pooled: bool = False
) -> tuple[int, str]:
    """Backfill a private copy of ``seeded``; return its fingerprint after checking that the
    set-based floor (tests/bench/floor.py, the rules written once more as SQL) computes the
    same numbers and sources for every row. ``pooled``: rows rendered in worker processes, as
    `pcf` renders them (the others render in process, as the deployed functions do)."""
    path = tmp_path / "season.duckdb"
    shutil.copy(seeded, path)
    app = make_app(f"duckdb:///{path}")
    if pooled:
        app.renderer = ProcessPoolRenderer(2)
    try:
        full_backfill(app, run_id=f"fingerprint-{source}", source=source)
        got = output_fingerprint(app.warehouse)
    finally:
        app.close()
    print(f"fingerprint source={source}: {got}")  # what to paste when re-recording
    floor = measure(path, repeat=1, pinned=source)
    assert (floor["mismatches"], floor["project_rows"]) == (0, got[0])
    return got


@pytest.mark.realdata
def test_real_season_output_is_unchanged(real_seeded_file: Path, tmp_path: Path) -> None:
    assert _backfill_and_check(real_seeded_file, tmp_path, "auto", pooled=True) == REAL_AUTO


@pytest.mark.realdata
def test_real_season_pgs_fallback_output_is_unchanged(
    real_seeded_file: Path, tmp_path: Path
) -> None:
    assert _backfill_and_check(real_seeded_file, tmp_path, "synthetic") == REAL_PGS


@pytest.fixture(scope="module")
def synthetic_seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic season (seed 7) seeded into a DuckDB file once."""
    from shared.tools.seed import write_synthetic_season
    from shared.tools.seed.load import seed

    tmp = tmp_path_factory.mktemp("synthetic")
    data_dir = write_synthetic_season(tmp / "data", seed=7)
    app = make_app(f"duckdb:///{tmp / 'season.duckdb'}", wire=False)
    try:
        seed(app, data_dir)
    finally:
        app.close()
    return tmp / "season.duckdb"


def test_synthetic_season_output_is_unchanged(synthetic_seeded_file: Path, tmp_path: Path) -> None:
    assert _backfill_and_check(synthetic_seeded_file, tmp_path, "auto") == SYNTHETIC_AUTO
