"""Pure: turn a chunk's context rows into output rows, date by date (the CPU-heavy part of
``process_date``). A renderer maps render jobs to their outcomes; the runtime renders in process,
the local tools may hand the same jobs to worker processes (same function, same rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, overload

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


class RowColumns(Sequence[dict[str, Any]]):
    """Rows kept column by column, in one column order: how rendered rows travel back from a
    render worker process. A chunk's rows pickle, load and become Arrow several times faster
    this way than as one dict per row, and the caller's process never builds those dicts. It
    reads as a sequence of row dicts, so any consumer of rows takes it as it is."""

    __slots__ = ("_length", "columns")

    def __init__(self, columns: dict[str, list[Any]]) -> None:
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        self.columns = columns
        self._length = lengths.pop() if lengths else 0

    @classmethod
    def of(cls, rows: Sequence[dict[str, Any]]) -> RowColumns | None:
        """``rows`` by column; None when they do not all have the same columns in one order
        (then they travel as they are)."""
        if not rows:
            return None
        names = tuple(rows[0])
        if any(tuple(row) != names for row in rows):
            return None
        values = zip(*(row.values() for row in rows), strict=True)  # same keys: same lengths
        return cls(dict(zip(names, map(list, values), strict=True)))

    def set_all(self, name: str, value: Any) -> None:
        """Column ``name`` holds ``value`` on every row (replacing it if present)."""
        self.columns[name] = [value] * self._length

    @staticmethod
    def join(blocks: Sequence[RowColumns]) -> RowColumns | None:
        """The blocks one after another; None unless they have the same columns in one order."""
        if not blocks or any(list(b.columns) != list(blocks[0].columns) for b in blocks):
            return None
        return RowColumns(
            {name: [v for b in blocks for v in b.columns[name]] for name in blocks[0].columns}
        )

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if not -self._length <= index < self._length:
            raise IndexError("row index out of range")
        return {name: values[index] for name, values in self.columns.items()}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = list(self.columns)
        for values in zip(*self.columns.values(), strict=True):
            yield dict(zip(names, values, strict=True))

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same row dicts in the same order."""
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        if len(other) != self._length:
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list


RenderedRows = list[dict[str, Any]] | RowColumns


@dataclass(frozen=True)
class Rendered:
    """One date's output rows and the players the range guard rejected (with reasons)."""

    rows: RenderedRows
    rejected: list[str]


def stamp(rows: RenderedRows, **values: Any) -> RenderedRows:
    """Give every row these column values (the run's columns, added at write time)."""
    if isinstance(rows, RowColumns):
        for name, value in values.items():
            rows.set_all(name, value)
    else:
        for row in rows:
            row.update(values)
    return rows


def join(blocks: Sequence[RenderedRows]) -> RenderedRows:
    """Every block's rows in order: by column when every non-empty block is (a date without
    rows has nothing to say about columns), else as row dicts."""
    filled = [block for block in blocks if len(block)]
    if filled and all(isinstance(b, RowColumns) for b in filled):
        joined = RowColumns.join(filled)  # type: ignore[arg-type]
        if joined is not None:
            return joined
    return [row for block in filled for row in block]


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
