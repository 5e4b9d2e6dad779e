"""Pure maths and decisions for player composite factors: factors, rows, source, coverage."""

from shared.composite.coverage import CHECKPOINTED_STATUSES, CoverageVerdict, coverage_verdict
from shared.composite.factors import (
    FactorResult,
    FatigueResult,
    PlayerContext,
    ShotZoneProfile,
    ZoneDefense,
    fatigue,
    pace,
    shot_zone_mismatch,
    usage_spike,
)
from shared.composite.row import (
    DEFAULT_CALCULATION_VERSION,
    QUALITY_FIELDS,
    RowRejected,
    build_row,
    data_hash,
    round_half_away,
    validate_row,
)
from shared.composite.source import PGS_SYNTHETIC, UPCG, SourceDecision, decide_source

__all__ = [
    "CHECKPOINTED_STATUSES",
    "DEFAULT_CALCULATION_VERSION",
    "PGS_SYNTHETIC",
    "QUALITY_FIELDS",
    "UPCG",
    "CoverageVerdict",
    "FactorResult",
    "FatigueResult",
    "PlayerContext",
    "RowRejected",
    "ShotZoneProfile",
    "SourceDecision",
    "ZoneDefense",
    "build_row",
    "coverage_verdict",
    "data_hash",
    "decide_source",
    "fatigue",
    "pace",
    "round_half_away",
    "shot_zone_mismatch",
    "usage_spike",
    "validate_row",
]
