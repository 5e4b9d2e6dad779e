"""Settings: the single reader of the environment (env prefix ``PCF_``)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# The one path to infra/: a staged function mirrors the repo layout (main.py, shared/, infra/).
INFRA_DIR = REPO_ROOT / "infra"
SCHEMA_DIR = INFRA_DIR / "schemas"
TOPOLOGY_PATH = INFRA_DIR / "topology.json"
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "nba_2022_23"
IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")


def validate_identifier(value: str, what: str = "identifier") -> str:
    """Return ``value`` if it is a safe BigQuery identifier, else raise ValueError."""
    if not IDENTIFIER.match(value or ""):
        raise ValueError(f"invalid {what} {value!r}: only letters, digits, '_' and '-' are allowed")
    return value


class Settings(BaseSettings):
    """Every tunable of the pipeline; defaults are the local embedded setup."""

    model_config = SettingsConfigDict(env_prefix="PCF_", extra="ignore")

    # Where it runs.
    project: str = "pcf-local"
    region: str = "us-central1"
    warehouse: str = "duckdb:///.pcf/warehouse.duckdb"
    bigquery_api_endpoint: str | None = None
    bigquery_location: str = "US"
    bus: Literal["local", "pubsub"] = "local"
    local_workers: int = Field(default=2, ge=1, le=32)
    # DuckDB buffer manager cap (MiB) of a file warehouse: it evicts to the file or spills
    # beyond it; raise it if a large query fails with "Out of Memory".
    duckdb_memory_mb: int = Field(default=64, ge=16, le=1 << 20)
    # Worker processes the local tools render a chunk's rows in (0: one per CPU, at most 4;
    # 1: in the calling process, like the deployed functions).
    render_processes: int = Field(default=0, ge=0, le=32)

    # Datasets (keys used by infra/schemas/*.json).
    dataset_reference: str = "nba_reference"
    dataset_analytics: str = "nba_analytics"
    dataset_precompute: str = "nba_precompute"
    dataset_orchestration: str = "nba_orchestration"
    dataset_backup: str = "nba_backup"
    dataset_staging: str = "pcf_staging"

    # Topics.
    topic_backfill_requests: str = "pcf-backfill-requests"
    topic_process_date: str = "pcf-process-date"
    topic_validate_coverage: str = "pcf-validate-coverage"
    topic_cleanup: str = "pcf-cleanup"
    topic_alerts: str = "pcf-alerts"

    # Processing and coverage thresholds (RULES §2.2, §4).
    calculation_version: str = "v1_4factors"
    fallback_threshold: float = Field(default=0.9, gt=0, le=1)
    coverage_block_pct: float = Field(default=90.0, ge=0, le=100)
    coverage_warn_pct: float = Field(default=95.0, ge=0, le=100)
    # A date whose latest ledger row is queued/processing/written for longer is `stalled`.
    stall_lease_minutes: int = Field(default=30, ge=1, le=24 * 60)
    bootstrap_days: int = Field(default=14, ge=0, le=60)
    max_dates_per_request: int = Field(default=400, ge=1, le=5000)
    # Dates per ProcessDate message: the chunk is planned, computed, staged, audited and
    # published with a constant number of statements (README "Throughput"). 1 = per date.
    chunk_size: int = Field(default=50, ge=1, le=400)

    # TTL cleanup (RULES §5).
    ttl_days: int = Field(default=7, ge=1, le=365)
    cleanup_tables: list[str] = [
        "upcoming_player_game_context",
        "upcoming_team_game_context",
    ]
    cleanup_max_fraction: float = Field(default=0.5, gt=0, le=1)
    cleanup_max_rows: int = Field(default=100_000, ge=1)
    backup_expiration_days: int = Field(default=30, ge=1)
    # One cleanup per table at a time; a `started` run older than this is reconciled.
    cleanup_lease_minutes: int = Field(default=30, ge=1, le=24 * 60)

    # Local data.
    data_dir: Path = DEFAULT_DATA_DIR
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # auto: readable text at a terminal, JSON lines elsewhere (always JSON in a Cloud Function).
    log_format: Literal["auto", "text", "json"] = "auto"

    @field_validator(
        "project",
        "dataset_reference",
        "dataset_analytics",
        "dataset_precompute",
        "dataset_orchestration",
        "dataset_backup",
        "dataset_staging",
        "topic_backfill_requests",
        "topic_process_date",
        "topic_validate_coverage",
        "topic_cleanup",
        "topic_alerts",
    )
    @classmethod
    def _identifier(cls, value: str) -> str:
        return validate_identifier(value)

    @field_validator("cleanup_tables")
    @classmethod
    def _tables(cls, value: list[str]) -> list[str]:
        return [validate_identifier(v, "table name") for v in value]

    @model_validator(mode="after")
    def _thresholds(self) -> Settings:
        if self.coverage_block_pct > self.coverage_warn_pct:
            raise ValueError("coverage_block_pct must not exceed coverage_warn_pct")
        return self

    def dataset(self, key: str) -> str:
        """Dataset name for a schema dataset key (reference, analytics, ...)."""
        value = getattr(self, f"dataset_{key}", None)
        if not isinstance(value, str):
            raise ValueError(f"unknown dataset key {key!r}")
        return value

    def topic(self, key: str) -> str:
        """Topic name for a topic key (backfill_requests, process_date, ...)."""
        value = getattr(self, f"topic_{key}", None)
        if not isinstance(value, str):
            raise ValueError(f"unknown topic key {key!r}")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings read once from the environment."""
    return Settings()
