"""Local seed data: derive the input tables from a season folder, or write a synthetic season."""

from shared.tools.seed.derive import SeedError, derive_tables
from shared.tools.seed.synthetic import write_synthetic_season

__all__ = ["SeedError", "derive_tables", "write_synthetic_season"]
