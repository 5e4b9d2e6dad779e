"""Emulator-stack tests (Pub/Sub emulator, bqemulator, functions-framework servers)."""
