"""Facts of the real 2022-23 season that several test tiers assert (RULES §0, SOURCE.md)."""

from __future__ import annotations

from datetime import date

INCIDENT, NEXT = date(2023, 2, 23), date(2023, 2, 24)
STALE = {INCIDENT: 1, NEXT: 68}
START, END = date(2023, 2, 15), date(2023, 3, 5)
OFF_DAYS = [date(2023, 2, d) for d in range(17, 23)]  # the All-Star break
# Distinct PGS players per game date of the range (2023-02-23/24 are RULES §0's 187 and 175).
EXPECTED = {
    date(2023, 2, 15): 215,
    date(2023, 2, 16): 63,
    INCIDENT: 187,
    NEXT: 175,
    date(2023, 2, 25): 154,
    date(2023, 2, 26): 191,
    date(2023, 2, 27): 78,
    date(2023, 2, 28): 216,
    date(2023, 3, 1): 190,
    date(2023, 3, 2): 83,
    date(2023, 3, 3): 212,
    date(2023, 3, 4): 126,
    date(2023, 3, 5): 199,
}
