"""Coverage/status report of a date range as PNG or HTML (blocked/forced/fallback stand out)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

STATUS_COLORS = {
    "succeeded": "#2e7d32",
    "warned": "#f9a825",
    "forced": "#8e24aa",
    "blocked": "#c62828",
    "failed": "#000000",
    "skipped_bootstrap": "#9e9e9e",
    "skipped_no_games": "#e0e0e0",
    "queued": "#90caf9",
    "processing": "#42a5f5",
    "written": "#1e88e5",
}


def _coverage(row: Mapping[str, Any]) -> float:
    value = row.get("coverage_pct")
    return float(value) if value is not None else 0.0


def render_png(rows: Sequence[Mapping[str, Any]], start: date, end: date) -> bytes:
    """One bar per date (coverage %), coloured by status; fallback dates hatched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    width = max(10.0, min(40.0, len(rows) * 0.12 + 4))
    fig, ax = plt.subplots(figsize=(width, 4.8), dpi=110)
    xs = [r["game_date"] for r in rows]
    bars = ax.bar(
        xs,
        [3.0 if str(r["status"]).startswith("skipped") else _coverage(r) for r in rows],
        color=[STATUS_COLORS.get(str(r["status"]), "#607d8b") for r in rows],
        width=0.8,
    )
    for bar, r in zip(bars, rows, strict=True):
        if r.get("data_source") == "PGS_SYNTHETIC":
            bar.set_hatch("///")
            bar.set_edgecolor("white")
        if r["status"] in ("blocked", "forced", "failed"):
            ax.annotate(
                f"{r['game_date']:%m-%d} {r['status']}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 6),
                textcoords="offset points",
                rotation=90,
                fontsize=7,
                ha="center",
                va="bottom",
            )
    ax.axhline(90, color="#c62828", linestyle="--", linewidth=0.8)
    ax.axhline(95, color="#f9a825", linestyle="--", linewidth=0.8)
    ax.set_ylim(0, 130)
    ax.set_ylabel("coverage % (actual / expected players)")
    ax.set_title(f"PCF coverage and status per date, {start} … {end}")
    present = sorted({str(r["status"]) for r in rows})
    handles = [Patch(color=STATUS_COLORS.get(s, "#607d8b"), label=s) for s in present]
    handles.append(
        Patch(facecolor="#777777", hatch="///", edgecolor="white", label="fallback (PGS_SYNTHETIC)")
    )
    ax.legend(handles=handles, loc="upper left", ncol=min(6, len(handles)), fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def render_html(rows: Sequence[Mapping[str, Any]], start: date, end: date) -> str:
    """A self-contained HTML page: the chart plus a per-date table."""
    png = base64.b64encode(render_png(rows, start, end)).decode("ascii")
    cols = [
        "game_date",
        "status",
        "expected_players",
        "actual_players",
        "coverage_pct",
        "data_source",
        "forced",
        "force_reason",
        "requested_by",
        "run_id",
    ]
    body = []
    for r in rows:
        color = STATUS_COLORS.get(str(r["status"]), "#607d8b")
        cells = "".join(
            f"<td>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>" for c in cols
        )
        body.append(f'<tr style="border-left:6px solid {color}">{cells}</tr>')
    head = "".join(f"<th>{c}</th>" for c in cols)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>PCF coverage report</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd;font-size:13px}</style></head>"
        f"<body><h1>PCF coverage {start} … {end}</h1>"
        f"<img alt='coverage chart' src='data:image/png;base64,{png}'>"
        f"<table><tr>{head}</tr>{''.join(body)}</table></body></html>"
    )


def render_report(rows: Sequence[Mapping[str, Any]], start: date, end: date, out: Path) -> None:
    """Write the report to ``out`` (.png or .html)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".html":
        out.write_text(render_html(rows, start, end), encoding="utf-8")
    else:
        out.write_bytes(render_png(rows, start, end))
