"""The one definition of ledger statuses and the groups the rules select by."""

from __future__ import annotations

from typing import Literal

# A date's life (docs/RULES.md, "Ledger statuses").
IN_FLIGHT = ("queued", "processing", "written")
CHECKPOINTED = ("succeeded", "warned", "forced")
RETRYABLE = ("blocked", "failed")
SKIPPED = ("skipped_no_games", "skipped_bootstrap")
FINAL_OK = (*CHECKPOINTED, *SKIPPED)
STATUSES = (*IN_FLIGHT, *CHECKPOINTED, *RETRYABLE, *SKIPPED)

# Where a date's context came from (the closed set every message and row carries).
DataSource = Literal["UPCG", "PGS_SYNTHETIC"]
UPCG: DataSource = "UPCG"
PGS_SYNTHETIC: DataSource = "PGS_SYNTHETIC"
