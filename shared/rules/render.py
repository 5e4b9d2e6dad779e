"""Pure: turn a chunk's context rows into output rows, date by date (the CPU-heavy part of
``process_date``). A renderer maps render jobs to their outcomes; the runtime renders in process,
the local tools may hand the same jobs to worker processes (same function, same rows)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.rules.factors import PlayerContext, ShotZoneProfile, ZoneDefense
from shared.rules.row import RowRejected, build_row

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class RenderJob:
    """One date's context rows and how to render them."""

    context_rows: Rows
    game_date: date
    source: str
    calculation_version: str


@dataclass(frozen=True)
class Rendered:
    """One date's output rows and the players the range guard rejected (with reasons)."""

    rows: Rows
    rejected: list[str]


RowRenderer = Callable[[Sequence[RenderJob]], list[Rendered]]


def build_rows(
    context_rows: Rows, game_date: date, source: str, calculation_version: str
) -> tuple[Rows, list[str]]:
    """Composite rows for every context row, and the rejected players with reasons."""
    rows: Rows = []
    rejected: list[str] = []
    for ctx in context_rows:
        profile = ShotZoneProfile.from_row(ctx) if ctx.get("has_shot_zone") else None
        defense = ZoneDefense.from_row(ctx) if ctx.get("has_team_defense") else None
        try:
            rows.append(
                build_row(
                    player_lookup=ctx["player_lookup"],
                    universal_player_id=ctx.get("universal_player_id"),
                    game_id=ctx.get("game_id"),
                    game_date=game_date,
                    data_source=source,
                    ctx=PlayerContext.from_row(ctx),
                    profile=profile,
                    defense=defense,
                    calculation_version=calculation_version,
                )
            )
        except (RowRejected, ValueError) as exc:
            rejected.append(f"{ctx['player_lookup']}: {exc}")
    return rows, rejected


def render(jobs: Sequence[RenderJob]) -> list[Rendered]:
    """Render every job in this process, in order."""
    return [
        Rendered(*build_rows(j.context_rows, j.game_date, j.source, j.calculation_version))
        for j in jobs
    ]
