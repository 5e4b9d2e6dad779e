"""The report: one self-contained HTML page for a date range (no network needed to view it).

Summary counts, a season calendar coloured by status (off-days distinct from dates never run),
an interactive Plotly chart (players expected vs live, coverage with labelled thresholds) and a
per-date drill-down holding what ``pcf explain`` shows. Plotly's JavaScript is inlined.
"""

from __future__ import annotations

import calendar
import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.rules.statuses import CHECKPOINTED
from shared.sql import explain as sql
from shared.tools.cli.explain import derived_reason, next_steps, run_view

STATUS_COLORS = {
    "succeeded": "#2e7d32",
    "warned": "#f9a825",
    "forced": "#8e24aa",
    "blocked": "#c62828",
    "failed": "#212121",
    "superseded": "#78909c",
    "stalled": "#ff7043",
    "skipped_bootstrap": "#bdbdbd",
    "skipped_no_games": "#eeeeee",
    "queued": "#90caf9",
    "processing": "#42a5f5",
    "written": "#1e88e5",
    "not run": "#ffffff",
    "off-day": "#f5f5f5",
}
# Shown first in the summary; the rest follow in STATUS_COLORS order.
SUMMARY_ORDER = ("succeeded", "warned", "forced", "blocked", "failed", "not run", "off-day")
MISSING_SHOWN = 40


@dataclass
class Day:
    """One date of the report."""

    game_date: date
    games: int
    expected: int
    live: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    next: list[str] = field(default_factory=list)

    @property
    def category(self) -> str:
        """The latest status; ``off-day`` (no games) or ``not run`` when there is no run."""
        if self.runs:
            return str(self.runs[-1]["status"])
        return "off-day" if self.games == 0 and self.expected == 0 else "not run"

    @property
    def latest(self) -> Mapping[str, Any] | None:
        """The latest run's ledger row."""
        return self.runs[-1] if self.runs else None


@dataclass
class ReportData:
    """Everything the page shows."""

    start: date
    end: date
    days: list[Day]
    block_pct: float
    warn_pct: float

    def counts(self) -> dict[str, int]:
        """Dates per category (latest status, off-day, not run)."""
        return dict(Counter(d.category for d in self.days))

    def forced_dates(self) -> list[date]:
        """Dates with at least one forced run (their history keeps it)."""
        return [d.game_date for d in self.days if any(r.get("forced") for r in d.runs)]


def collect(app: Any, start: date, end: date) -> ReportData:
    """Read the ledger history, schedule and player counts of ``start``…``end`` (read-only)."""
    wh = app.warehouse
    window = {"start_date": start, "end_date": end}
    history: dict[date, list[dict[str, Any]]] = {}
    for row in wh.query(sql.HISTORY, window):
        run = run_view(row)
        run["why"] = run["source_reason"] or (
            f"{derived} (derived)" if (derived := derived_reason(run, app.settings)) else None
        )
        history.setdefault(row["game_date"], []).append(run)
    games = {r["game_date"]: int(r["games"]) for r in wh.query(sql.GAMES_BY_DATE, window)}
    players = {r["game_date"]: r for r in wh.query(sql.PLAYERS_BY_DATE, window)}
    days = []
    day = start
    while day <= end:
        p = players.get(day)
        d = Day(
            game_date=day,
            games=games.get(day, 0),
            expected=int(p["expected_players"]) if p else 0,
            live=int(p["live_players"]) if p else 0,
            runs=history.get(day, []),
        )
        if d.live < d.expected and d.runs:
            d.missing = wh.query(sql.MISSING_LIVE, {"game_date": day})
        d.next = next_steps(day, d.runs, d.games, d.expected, d.live, app.settings)
        days.append(d)
        day += timedelta(days=1)
    return ReportData(
        start,
        end,
        days,
        float(app.settings.coverage_block_pct),
        float(app.settings.coverage_warn_pct),
    )


# -- rendering ----------------------------------------------------------------------------------
def _e(value: Any) -> str:
    from shared.tools.cli.common import human

    if isinstance(value, datetime):
        return html.escape(value.strftime("%Y-%m-%d %H:%M:%S"))
    return html.escape(human(value))


def _coverage(day: Day) -> float | None:
    latest = day.latest
    if latest is None or latest.get("coverage_pct") is None:
        return None
    return float(latest["coverage_pct"])


def _summary(data: ReportData) -> str:
    counts = data.counts()
    order = [*SUMMARY_ORDER, *(s for s in STATUS_COLORS if s not in SUMMARY_ORDER)]
    cards = [
        f'<div class="card" data-status="{s}"><span class="swatch" '
        f'style="background:{STATUS_COLORS.get(s, "#607d8b")}"></span>'
        f'<b class="n" data-count="{s}">{counts.get(s, 0)}</b> {html.escape(s)}</div>'
        for s in order
        if counts.get(s) or s in SUMMARY_ORDER
    ]
    game_days = sum(1 for d in data.days if d.games or d.expected)
    expected = sum(d.expected for d in data.days)
    live = sum(d.live for d in data.days)
    checkpointed = sum(1 for d in data.days if d.category in CHECKPOINTED)
    totals = (
        f'<p class="totals"><b data-total="dates">{len(data.days)}</b> dates, '
        f'<b data-total="game_days">{game_days}</b> with games, '
        f'<b data-total="checkpointed">{checkpointed}</b> checkpointed; '
        f'players expected <b data-total="expected">{expected}</b>, '
        f'live <b data-total="live">{live}</b></p>'
    )
    return totals + f'<div class="cards">{"".join(cards)}</div>'


def _calendar(data: ReportData) -> str:
    by_date = {d.game_date: d for d in data.days}
    months: list[tuple[int, int]] = []
    cur = date(data.start.year, data.start.month, 1)
    while cur <= data.end:
        months.append((cur.year, cur.month))
        cur = date(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
    blocks = []
    for year, month in months:
        cells = ['<div class="dow">' + "</div><div class='dow'>".join("MTWTFSS") + "</div>"]
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            for day in week:
                d = by_date.get(day) if day.month == month else None
                if d is None:
                    cells.append('<div class="cell empty"></div>')
                    continue
                cat = d.category
                cov = _coverage(d)
                tip = f"{day} · {cat}" + (f" · {cov:g} %" if cov is not None else "")
                tip += f" · {d.live}/{d.expected} players" if d.expected else ""
                forced = " forced" if any(r.get("forced") for r in d.runs) else ""
                cells.append(
                    f'<a class="cell s-{html.escape(cat)}{forced}" href="#d-{day}" '
                    f'title="{html.escape(tip)}" data-date="{day}" data-status="{cat}" '
                    f'style="background:{STATUS_COLORS.get(cat, "#607d8b")}">{day.day}</a>'
                )
        blocks.append(
            f'<div class="month"><h3>{calendar.month_name[month]} {year}</h3>'
            f'<div class="grid">{"".join(cells)}</div></div>'
        )
    legend = "".join(
        f'<span class="leg"><span class="swatch" style="background:{c}"></span>{s}</span>'
        for s, c in STATUS_COLORS.items()
    )
    return (
        f'<div class="calendar">{"".join(blocks)}</div><div class="legend">{legend} '
        '<span class="leg"><span class="swatch forced-mark"></span>had a forced run</span></div>'
    )


def _figure(data: ReportData) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    days = [d for d in data.days if d.expected or d.runs]
    xs = [d.game_date.isoformat() for d in days]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=xs,
            y=[d.expected for d in days],
            name="players expected (PGS)",
            marker_color="#cfd8dc",
            hovertemplate="%{x}: %{y} expected<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Bar(
            x=xs,
            y=[d.live for d in days],
            name="players live (colour: latest status)",
            marker_color=[STATUS_COLORS.get(d.category, "#607d8b") for d in days],
            customdata=[
                [d.category, "" if _coverage(d) is None else f"{_coverage(d):g}"] for d in days
            ],
            hovertemplate="%{x}: %{y} live · %{customdata[0]} · %{customdata[1]} %<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[_coverage(d) for d in days],
            name="coverage % (latest run)",
            mode="lines+markers",
            line={"color": "#37474f", "width": 1},
            marker={"size": 5},
            hovertemplate="%{x}: %{y} %<extra></extra>",
        ),
        secondary_y=True,
    )
    for pct, label, color, anchor in (
        (data.block_pct, f"gate: block below {data.block_pct:g} %", "#c62828", "top"),
        (data.warn_pct, f"warn below {data.warn_pct:g} %", "#f9a825", "bottom"),
    ):
        fig.add_shape(
            type="line",
            xref="paper",
            x0=0,
            x1=1,
            yref="y2",
            y0=pct,
            y1=pct,
            line={"color": color, "dash": "dash", "width": 1.5},
        )
        fig.add_annotation(
            xref="paper",
            x=0.005,
            xanchor="left",
            yref="y2",
            y=pct,
            yanchor=anchor,
            text=label,
            showarrow=False,
            font={"color": color, "size": 12},
            bgcolor="rgba(255,255,255,0.8)",
        )
    fig.update_layout(
        barmode="overlay",
        height=460,
        margin={"l": 60, "r": 60, "t": 30, "b": 40},
        legend={"orientation": "h", "y": 1.08},
        bargap=0.15,
        plot_bgcolor="white",
    )
    fig.update_yaxes(title_text="players", secondary_y=False, gridcolor="#eceff1")
    fig.update_yaxes(
        title_text="coverage %",
        range=[0, 105],
        tickvals=[0, 25, 50, 75, data.block_pct, data.warn_pct, 100],
        secondary_y=True,
        showgrid=False,
    )
    out: str = fig.to_html(
        full_html=False,
        include_plotlyjs=True,
        div_id="chart",
        config={"responsive": True, "displaylogo": False},
        post_script=(
            "document.getElementById('{plot_id}').on('plotly_click', function(ev) {"
            " var d = ev.points[0].x; var el = document.getElementById('d-' + d);"
            " if (el) { el.open = true; el.scrollIntoView({behavior: 'smooth'}); } });"
        ),
    )
    return out


RUN_COLUMNS = (
    ("run_id", "run"),
    ("status", "status"),
    ("data_source", "source"),
    ("why", "why this source"),
    ("expected_players", "expected"),
    ("upcg_players", "upcg"),
    ("actual_players", "actual"),
    ("coverage_pct", "coverage %"),
    ("missing_players", "missing"),
    ("forced", "forced"),
    ("force_reason", "force reason"),
    ("requested_by", "by"),
    ("attempts", "attempts"),
    ("error", "error"),
)


def _drill(data: ReportData) -> str:
    out = []
    for d in data.days:
        if not d.runs and d.category == "off-day":
            continue
        cat = d.category
        notable = cat in ("blocked", "failed", "forced") or len(d.runs) > 1
        head = "".join(f"<th>{label}</th>" for _, label in RUN_COLUMNS)
        rows = "".join(
            f'<tr class="s-{_e(r["status"])}">'
            + "".join(f"<td>{_e(r.get(k))}</td>" for k, _ in RUN_COLUMNS)
            + "</tr>"
            for r in d.runs
        )
        runs = (
            f'<table class="runs"><tr>{head}</tr>{rows}</table>' if d.runs else "<p>no run yet</p>"
        )
        missing = ""
        if d.missing:
            names = ", ".join(
                _e(f"{m['player_full_name'] or m['player_lookup']} ({m['team_abbr']})")
                for m in d.missing[:MISSING_SHOWN]
            )
            more = f" … and {len(d.missing) - MISSING_SHOWN} more" if len(d.missing) > 40 else ""
            missing = (
                f"<p><b>{len(d.missing)}</b> expected players missing from the live table: "
                f"{names}{more}</p>"
            )
        steps = "".join(f"<li>{_e(s)}</li>" for s in d.next)
        out.append(
            f'<details id="d-{d.game_date}" data-status="{_e(cat)}"{" open" if notable else ""}>'
            f'<summary><span class="swatch" style="background:'
            f'{STATUS_COLORS.get(cat, "#607d8b")}"></span><b>{d.game_date}</b> {_e(cat)} · '
            f"{d.games} games · {d.live}/{d.expected} players live · {len(d.runs)} run(s)"
            f"</summary>{runs}{missing}<p>next:</p><ul>{steps}</ul></details>"
        )
    return "".join(out)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#263238}
main{max-width:1400px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:8px 0} h2{font-size:17px;margin:22px 0 8px} h3{font-size:13px;margin:4px 0}
.totals{font-size:15px} .cards{display:flex;flex-wrap:wrap;gap:8px}
.card{border:1px solid #cfd8dc;border-radius:6px;padding:6px 10px;font-size:14px}
.card .n{font-size:18px}
.swatch{display:inline-block;width:12px;height:12px;border:1px solid #90a4ae;margin-right:5px;
 vertical-align:middle;border-radius:2px}
.calendar{display:flex;flex-wrap:wrap;gap:14px}
.grid{display:grid;grid-template-columns:repeat(7,26px);gap:2px}
.dow{font-size:10px;text-align:center;color:#78909c}
.cell{height:24px;font-size:11px;text-align:center;line-height:24px;color:#263238;
 text-decoration:none;border:1px solid #cfd8dc;border-radius:3px}
.cell.empty{border:none}
.cell.s-off-day{color:#b0bec5;border-style:dotted}
.cell.s-not\\ run{border:1px dashed #c62828}
.cell.s-succeeded,.cell.s-forced,.cell.s-blocked,.cell.s-failed{color:#fff}
.cell.forced{outline:2px solid #8e24aa;outline-offset:1px}
.forced-mark{outline:2px solid #8e24aa}
.legend{margin-top:8px;font-size:12px;display:flex;flex-wrap:wrap;gap:10px}
details{border-bottom:1px solid #eceff1;padding:4px 0} summary{cursor:pointer;font-size:14px}
table.runs{border-collapse:collapse;margin:6px 0;font-size:12px}
table.runs td,table.runs th{padding:2px 6px;border-bottom:1px solid #eceff1;text-align:left}
tr.s-blocked td{background:#ffebee} tr.s-forced td{background:#f3e5f5}
tr.s-failed td{background:#eceff1}
"""


def render_html(data: ReportData) -> str:
    """The whole page (Plotly inlined: opens offline)."""
    forced = ", ".join(str(d) for d in data.forced_dates()) or "none"
    blocked = [d.game_date for d in data.days if any(r["status"] == "blocked" for r in d.runs)]
    meta = {
        "start": data.start.isoformat(),
        "end": data.end.isoformat(),
        "counts": data.counts(),
        "blocked": [d.isoformat() for d in blocked],
        "forced": [d.isoformat() for d in data.forced_dates()],
    }
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>PCF report {data.start} … {data.end}</title><style>{CSS}</style></head><body>"
        f"<main><h1>PCF coverage and status, {data.start} … {data.end}</h1>"
        f"{_summary(data)}"
        f"<p>Dates that ever had a blocked run: <b id='blocked-dates'>"
        f"{', '.join(str(d) for d in blocked) or 'none'}</b>. "
        f"Dates with a forced run: <b id='forced-dates'>{forced}</b>.</p>"
        "<h2>Season calendar (latest status; click a day for its history)</h2>"
        f"{_calendar(data)}"
        "<h2>Players expected vs live, and coverage (click a bar for its history)</h2>"
        f"{_figure(data)}"
        "<h2>Per-date history (every run, why its source was chosen, what to do next)</h2>"
        f"<section id='drill'>{_drill(data)}</section>"
        f"<script type='application/json' id='pcf-report-data'>{json.dumps(meta)}</script>"
        "</main></body></html>"
    )


def render_report(data: ReportData, out: Path) -> None:
    """Write the page to ``out`` (its folder is created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(data), encoding="utf-8")


def status_rows(data: ReportData) -> Sequence[Mapping[str, Any]]:
    """One row per date: the calendar's content as data (tests, JSON)."""
    return [
        {"game_date": d.game_date, "category": d.category, "runs": len(d.runs)} for d in data.days
    ]
