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


def test_a_table_larger_than_the_cap_is_written_and_read(tmp_path: Path) -> None:
    """4M rows × 3 columns (≈ 96 MB) written and scanned through the port from a 64 MiB cap."""
    from shared.warehouse import Sql

    wh = DuckDBWarehouse(Settings(), str(tmp_path / "wh.duckdb"))
    try:
        wh.execute(
            Sql(
                "test.big",
                "CREATE TABLE big AS SELECT i AS k, i * 2.0 AS a, MOD(i, 7) AS b"
                " FROM UNNEST(GENERATE_ARRAY(0, 3999999)) AS i",
                {},
            )
        )
        total = Sql(
            "test.sum", "SELECT COUNT(*) AS n, SUM(k) AS k, MAX(a) AS a, SUM(b) AS b FROM big", {}
        )
        assert wh.query(total) == [
            {"n": 4_000_000, "k": 7_999_998_000_000, "a": 7_999_998.0, "b": 11_999_994}
        ]
    finally:
        wh.close()


def test_a_statement_needing_more_than_the_cap_gets_it(tmp_path: Path) -> None:
    """A hash aggregate of 4M distinct keys fails under 64 MiB (DuckDB rolls it back); the cap
    grows by half (64 → 96 → 144 …) until it fits and the statement runs again: the answer, not
    an error."""
    from shared.warehouse import Sql

    wh = DuckDBWarehouse(Settings(), str(tmp_path / "wh.duckdb"))
    try:
        wh._con().execute("CREATE TABLE big AS SELECT i AS k FROM range(4000000) t(i)")
        distinct = Sql("test.distinct", "SELECT count(DISTINCT k) AS n FROM big", {})
        assert wh.query(distinct) == [{"n": 4_000_000}]
        assert wh._memory_mb is not None
        assert wh._memory_mb in {96, 144, 216, 324, 486}
        assert _limit(wh) == f"{wh._memory_mb}.0 MiB"
    finally:
        wh.close()


def test_a_file_warehouse_builds_arrow_with_malloc(tmp_path: Path) -> None:
    """Staged Arrow rows come from the system allocator once a file warehouse is open."""
    import pyarrow as pa

    previous = pa.default_memory_pool()
    try:
        pa.set_memory_pool(pa.mimalloc_memory_pool())
        wh = DuckDBWarehouse(Settings(), str(tmp_path / "wh.duckdb"))
        wh.close()
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(previous)
