"""Chunked execution changes nothing: the whole real season's output equals main's, to the row.

The fingerprints below were recorded from main before chunking existed (commit 4b82616, one
ProcessDate per date): ``python -m tests.realdata.season_fingerprint <seeded.duckdb>`` on a fresh
copy of the seeded real season (and ``source=synthetic`` for the PGS fallback on every date).
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.app import App
from tests.realdata.season_fingerprint import backfill_season, fingerprint

pytestmark = pytest.mark.realdata

# sha256 over every PCF row (all columns but run_id/processed_at) and every date's final ledger
# status and data source, of the full 2022-23 season backfill: 23,627 rows, 150 dates
# succeeded, 14 skipped_bootstrap.
MAIN_UPCG = "1cecad92d52683550096550f60befbc8b761320594ce586badc1669815cb258b"
MAIN_SYNTHETIC = "4b2510a669a4e8c5ccedf51df064265b46558c1d621dd7fdc593d8c4bed63dca"
STATUSES = {"skipped_bootstrap": 14, "succeeded": 150}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"chunk_size": 1}, MAIN_UPCG),
        ({}, MAIN_UPCG),  # the default chunk size (Settings.chunk_size)
        ({"chunk_size": 7, "source": "synthetic"}, MAIN_SYNTHETIC),
    ],
    ids=["chunk-1", "chunk-default", "chunk-7-synthetic"],
)
def test_chunked_season_reproduces_main(
    real_app: App, fields: dict[str, Any], expected: str
) -> None:
    before = real_app.warehouse.round_trips
    backfill_season(real_app, **fields)
    trips = real_app.warehouse.round_trips - before
    digest, rows, statuses = fingerprint(real_app)
    assert (rows, statuses) == (23_627, STATUSES)
    assert digest == expected
    if not fields:
        # Round trips of the whole request (dispatch, process, validate, ledger; the fingerprint
        # reads are not counted): at most 1.5 per processed date.
        assert trips <= 1.5 * STATUSES["succeeded"], trips
