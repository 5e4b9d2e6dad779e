"""The embedded warehouse caps DuckDB's buffer manager (issue 13: peak RSS ≤ 400 MiB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import Settings
from shared.tools.duckdb_warehouse import DuckDBWarehouse


def _limit(wh: DuckDBWarehouse) -> str:
    return str(wh._con().execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


def test_the_default_cap_reaches_duckdb(tmp_path: Path) -> None:
    """64 MiB on a file warehouse, on every connection (they share one database); an in-memory
    database, which cannot evict its tables, keeps DuckDB's default (80 % of the RAM)."""
    assert Settings().duckdb_memory_mb == 64
    on_file = DuckDBWarehouse(Settings(), str(tmp_path / "wh.duckdb"))
    in_memory = DuckDBWarehouse(Settings(), ":memory:")
    try:
        assert _limit(on_file) == "64.0 MiB"
        assert _limit(in_memory) != "64.0 MiB"
    finally:
        on_file.close()
        in_memory.close()


def test_the_setting_reaches_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PCF_DUCKDB_MEMORY_MB", "256")
    wh = DuckDBWarehouse(Settings(), str(tmp_path / "wh.duckdb"))
    try:
        assert _limit(wh) == "256.0 MiB"
    finally:
        wh.close()


def test_a_cap_below_16_mib_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PCF_DUCKDB_MEMORY_MB", "8")
    with pytest.raises(ValueError, match="duckdb_memory_mb"):
        Settings()


def test_a_table_larger_than_the_cap_is_evicted_not_refused(tmp_path: Path) -> None:
    """4M rows × 3 columns (≈ 96 MB) written and scanned under the 64 MiB cap."""
    wh = DuckDBWarehouse(Settings(), str(tmp_path / "wh.duckdb"))
    try:
        con = wh._con()
        con.execute(
            "CREATE TABLE big AS SELECT i AS k, i * 2.0 AS a, i % 7 AS b FROM range(4000000) t(i)"
        )
        rows = con.execute("SELECT count(*), sum(k), max(a), sum(b) FROM big").fetchall()
        assert rows == [(4_000_000, 7_999_998_000_000, 7_999_998.0, 11_999_994)]
    finally:
        wh.close()
