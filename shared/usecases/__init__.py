"""Use cases: one short I/O shell per Cloud Function, plus the ledger they share."""
