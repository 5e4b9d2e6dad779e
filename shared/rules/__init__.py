"""Pure maths and decisions for player composite factors: factors, rows, source, coverage."""

from shared.rules.coverage import CoverageVerdict, coverage_verdict
from shared.rules.factors import (
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
from shared.rules.row import (
    DEFAULT_CALCULATION_VERSION,
    QUALITY_FIELDS,
    RowRejected,
    build_row,
    data_hash,
    round_half_away,
    validate_row,
)
from shared.rules.source import SourceDecision, decide_source
from shared.rules.statuses import PGS_SYNTHETIC, UPCG

__all__ = [
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
