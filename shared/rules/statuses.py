"""The one definition of ledger statuses and the groups the rules select by."""

from __future__ import annotations

from typing import Literal

# A date's life (RULES §4.3, "Ledger statuses").
IN_FLIGHT = ("queued", "processing", "written")
CHECKPOINTED = ("succeeded", "warned", "forced")
SUPERSEDED = "superseded"  # a stale run's message: acked, nothing published
SKIPPED = ("skipped_no_games", "skipped_bootstrap")
# Stored in the ledger.
STATUSES = (*IN_FLIGHT, *CHECKPOINTED, "blocked", "failed", SUPERSEDED, *SKIPPED)
# Never stored: reported for a date whose latest row is in flight for longer than the lease.
STALLED = "stalled"
REPORTED_STATUSES = (*STATUSES, STALLED)
# What `rerun=failed` selects, and what makes a run exit 1.
RETRYABLE = ("blocked", "failed", STALLED)
FAILING = RETRYABLE
# Outcomes that need nothing more (exit 0).
FINAL_OK = (*CHECKPOINTED, SUPERSEDED, *SKIPPED)

# Where a date's context came from (the closed set every message and row carries).
DataSource = Literal["UPCG", "PGS_SYNTHETIC"]
UPCG: DataSource = "UPCG"
PGS_SYNTHETIC: DataSource = "PGS_SYNTHETIC"
