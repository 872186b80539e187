"""The report as one self-contained HTML page (plotly.js embedded once, so it opens offline).

Pure: reports in, a string out. Series are downsampled to ``MAX_POINTS`` per trace so a day
of data stays a few MB and renders in seconds; the numbers in the tables come from the full
data (``metrics.py``).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from numpy.typing import NDArray
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from thalex_mm import __version__
from thalex_mm.report.load import F64, I64
from thalex_mm.report.metrics import NS, RunReport, Stat, downsample

MAX_POINTS = 1_500
SECTIONS = ("headline", "pnl", "markouts", "quoting", "inventory", "model", "latency")
_CONFIG = {"displaylogo": False, "responsive": True}
_TEMPLATE = "plotly_white"

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1200px;color:#222}
h1{font-size:1.5rem} h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem} td,th{padding:.2rem .6rem;
border-bottom:1px solid #eee;text-align:right} th:first-child,td:first-child{text-align:left}
.note{color:#666;font-size:.9rem} .run{margin-bottom:3rem}
"""


def fmt(x: float | None, spec: str = ".4f") -> str:
    """A number for a table; n/a for missing or NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return format(x, spec)


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fig(fig: go.Figure, div_id: str, height: int = 380) -> str:
    fig.update_layout(
        template=_TEMPLATE, height=height, margin={"l": 60, "r": 20, "t": 40, "b": 40}
    )
    out: str = pio.to_html(
        fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG
    )
    return out


def _time_axis(start_ns: int, stop_ns: int) -> tuple[float, str]:
    """Divisor from ns and the axis label: seconds, minutes or hours since the start."""
    span = (stop_ns - start_ns) / NS
    if span < 600:
        return NS, "seconds since start"
    if span < 6 * 3600:
        return 60 * NS, "minutes since start"
    return 3600 * NS, "hours since start"


def _x(ts: I64, start_ns: int, unit: float) -> NDArray[np.float32]:
    return _f32((ts - start_ns) / unit)


def _f32(values: F64) -> NDArray[np.float32]:
    """Plot data as float32: half the bytes, and ample precision for a chart."""
    return np.asarray(values, dtype=np.float32)


def _when(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _pm(s: Stat) -> str:
    return "n/a" if s.n == 0 else f"{fmt(s.mean, '+.3f')} ± {fmt(s.ci, '.3f')}"


# --- sections -----------------------------------------------------------------------------
def headline_rows(reports: Sequence[RunReport]) -> list[list[str]]:
    """The headline numbers, one column per run (shared with the terminal output)."""
    hs = [r.headline for r in reports]
    step = hs[0].ratios.interval_s

    def row(label: str, values: Iterable[str]) -> list[str]:
        return [label, *values]

    return [
        row("run", (h.run_id for h in hs)),
        row("duration (s)", (fmt(h.duration_s, ".1f") for h in hs)),
        row("fills (maker)", (f"{h.fills} ({h.maker_fills})" for h in hs)),
        row("volume", (fmt(h.volume, ".6g") for h in hs)),
        row("notional (USD)", (fmt(h.notional, ",.2f") for h in hs)),
        row("total PnL (USD)", (fmt(h.total_pnl, "+.4f") for h in hs)),
        row("PnL per hour (USD)", (fmt(h.pnl_per_hour, "+.2f") for h in hs)),
        row(
            f"Sharpe per {step} s / annualised",
            (f"{fmt(h.ratios.sharpe, '.3f')} / {fmt(h.ratios.sharpe_annual, '.1f')}" for h in hs),
        ),
        row(
            f"Sortino per {step} s / annualised",
            (f"{fmt(h.ratios.sortino, '.3f')} / {fmt(h.ratios.sortino_annual, '.1f')}" for h in hs),
        ),
        row("max drawdown (USD)", (fmt(h.max_drawdown, ".4f") for h in hs)),
        row("return over notional (bps)", (fmt(h.return_bps, "+.3f") for h in hs)),
        row("spread edge at fill (USD)", (fmt(h.edge, "+.4f") for h in hs)),
        row("inventory PnL (USD)", (fmt(h.inventory, "+.4f") for h in hs)),
        row("carried-in position (USD)", (fmt(h.carried, "+.4f") for h in hs)),
        row("fees paid / rebates (USD)", (f"{h.fees_paid:.4f} / {h.rebates:.4f}" for h in hs)),
        row(
            "funding (USD)", ("not journaled" if h.funding is None else fmt(h.funding) for h in hs)
        ),
        row("fair value from", (h.fair_source for h in hs)),
    ]


def _headline(r: RunReport) -> str:
    note = (
        f'<p class="note">Sharpe and Sortino: mean over standard (downside) deviation of the '
        f"net equity's change per {r.headline.ratios.interval_s} s interval "
        f"({r.headline.ratios.intervals} intervals); annualised × √(intervals per 365 days). "
        f"Run from {_when(r.run.start_ns)} to {_when(r.run.stop_ns)} UTC, "
        f"{html.escape(r.run.info.stop_reason or 'no stop recorded')}.</p>"
    )
    return _table(["", "value"], headline_rows([r])) + note


def _pnl(r: RunReport, i: int) -> str:
    p = r.pnl
    unit, label = _time_axis(r.run.start_ns, r.run.stop_ns)
    idx = downsample(p.ts, MAX_POINTS)
    x = _x(p.ts[idx], r.run.start_ns, unit)
    fig = go.Figure()
    series = [
        ("equity (net of fees)", p.net),
        ("equity before fees", p.gross),
        ("spread edge at fill", p.edge),
        ("inventory", p.inventory),
        ("fees (−)", -p.fees),
    ]
    if np.any(p.carried):
        series.append(("carried-in position", p.carried))
    for name, y in series:
        fig.add_trace(go.Scatter(x=x, y=_f32(y[idx]), name=name, mode="lines"))
    fig.update_layout(title="PnL decomposition (USD)", xaxis_title=label, yaxis_title="USD")
    note = (
        '<p class="note">edge = Σ side·(fair − price)·amount at each fill; inventory = Σ '
        "side·amount·(fair now − fair at fill); edge + inventory = cash + position × fair "
        "(exact). Funding is not journaled, so it is not in the split.</p>"
    )
    return _fig(fig, f"pnl-fig-{i}") + note


def _markouts(r: RunReport, i: int) -> str:
    m = r.markouts
    hs = [f"{h:g} s" for h in m.horizons_s]
    fig = go.Figure()
    for key, stats in m.markout.items():
        fig.add_trace(
            go.Scatter(
                x=list(m.horizons_s), y=[s.mean for s in stats], name=key, mode="lines+markers",
                error_y={"type": "data", "array": [0.0 if s.n < 2 else s.ci for s in stats]},
            )
        )  # fmt: skip
    fig.update_layout(
        title="Markout per unit after the fill (USD), 95 % CI",
        xaxis={"title": "horizon (s)", "type": "category"},
        yaxis_title="USD per unit",
    )
    rows = [[k, *(_pm(s) + f" (n={s.n})" for s in v)] for k, v in m.markout.items()]
    adverse = [[k, *(_pm(s) for s in v[1:])] for k, v in m.adverse.items()]
    toxic = [[k, *(fmt(s.toxic * 100, ".1f") for s in v[1:])] for k, v in m.markout.items()]
    totals = [[k, *(fmt(s.total, "+.4f") for s in v)] for k, v in m.markout.items()]
    return (
        _fig(fig, f"markouts-fig-{i}")
        + "<h3>Markout per unit (USD): mean ± 95 % CI</h3>"
        + _table(["group", *hs], rows)
        + "<h3>Adverse selection per unit = markout(h) − markout(0)</h3>"
        + _table(["group", *hs[1:]], adverse)
        + "<h3>Toxic fills: share with a negative markout (%)</h3>"
        + _table(["group", *hs[1:]], toxic)
        + "<h3>Markout totals (USD)</h3>"
        + _table(["group", *hs], totals)
        + _table(["fills left out (horizon past the data)", *hs], [["", *m.left_out]])
        + '<p class="note">Fair after a fill: the market snapshots\' mark as of t + h; the '
        "ladder level is the nearest price of the latest quote decision on the fill's side.</p>"
    )


def _quoting(r: RunReport, i: int) -> str:
    q = r.quoting

    def pct(x: float) -> str:
        return fmt(x * 100, ".2f")

    summary = _table(
        ["", "value"],
        [
            ["uptime, both sides live (%)", pct(q.uptime_both)],
            ["uptime, bid / ask (%)", f"{pct(q.uptime_bid)} / {pct(q.uptime_ask)}"],
            ["time at the touch, bid / ask (% of snapshots)", f"{pct(q.touch_bid)} / "
             f"{pct(q.touch_ask)}"],
            ["order actions per fill", fmt(q.actions_per_fill, ".2f")],
            *([f"actions: {k}", v] for k, v in q.actions.items()),
        ],
    )  # fmt: skip
    depth = max((len(v) for v in q.distance.values()), default=0)
    fig = go.Figure()
    for side, values in q.distance.items():
        fig.add_trace(go.Bar(x=[f"level {j + 1}" for j in range(len(values))], y=values, name=side))
    fig.update_layout(title="Mean distance from fair by level (USD)", barmode="group")
    levels = _table(
        ["level", "fills", "fills per minute quoted"],
        [[k, v, fmt(q.fill_rate_per_min[k], ".3f")] for k, v in q.fills_per_level.items()],
    )
    rejects = _table(["reject reason", "count"], list(q.rejects.items()) or [["(none)", 0]])
    endings = _table(["order ended by", "count"], list(q.endings.items()) or [["(none)", 0]])
    return (
        summary + (_fig(fig, f"quoting-fig-{i}", 320) if depth else "") + levels + rejects + endings
    )


def _inventory(r: RunReport, i: int) -> str:
    parts = []
    unit, label = _time_axis(r.run.start_ns, r.run.stop_ns)
    for j, inv in enumerate(r.inventory):
        fig = make_subplots(
            rows=1, cols=2, subplot_titles=("time at each position (s)", "position")
        )
        fig.add_trace(go.Bar(x=inv.positions, y=inv.seconds, name="seconds"), row=1, col=1)
        pos = r.pnl.position.get(inv.instrument)
        if pos is not None:
            idx = downsample(r.pnl.ts, MAX_POINTS)
            x = _x(r.pnl.ts[idx], r.run.start_ns, unit)
            fig.add_trace(
                go.Scatter(x=x, y=_f32(pos[idx]), name="position", line_shape="hv"), row=1, col=2
            )
            if inv.limit:
                for y in (inv.limit, -inv.limit):
                    fig.add_hline(y=y, line_dash="dot", line_color="red", row=1, col=2)
        fig.update_layout(title=f"Inventory: {inv.instrument}", showlegend=False)
        fig.update_xaxes(title_text=label, row=1, col=2)
        parts.append(_fig(fig, f"inventory-fig-{i}-{j}", 340))
        parts.append(
            _table(
                ["instrument", "limit", "max |position|", "time at the limit (s)"],
                [[inv.instrument, fmt(inv.limit, "g"), fmt(inv.max_abs, "g"),
                  fmt(inv.at_limit_s, ".2f")]],
            )
        )  # fmt: skip
    rs = r.risk
    parts.append(
        _table(["risk state", "seconds"], [[k, fmt(v, ".2f")] for k, v in rs.seconds.items()])
    )
    parts.append(
        _table(
            ["time (UTC)", "instrument", "new state", "reason"],
            [[_when(t), n, s, d] for t, n, s, d in rs.changes] or [["(no changes)", "", "", ""]],
        )
    )
    parts.append(_table(["risk event", "count"], list(rs.events.items()) or [["(none)", 0]]))
    if rs.notable:
        parts.append(
            _table(
                ["time (UTC)", "instrument", "kind", "state", "detail"],
                [[_when(t), n, k, s, d] for t, n, k, s, d in rs.notable],
            )
        )
    return "".join(parts)


def _model(r: RunReport, i: int) -> str:
    unit, label = _time_axis(r.run.start_ns, r.run.stop_ns)
    parts = []
    for j, (name, inst) in enumerate(r.run.instruments.items()):
        q = inst.quotes
        if len(q.ts) == 0:
            parts.append(f"<p>{html.escape(name)}: no quote decisions journaled.</p>")
            continue
        fig = make_subplots(
            rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05,
            subplot_titles=("reservation price vs the market", "spread: ours vs the book's",
                            "σ (USD per √s)", "A and k (fill intensity)"),
        )  # fmt: skip
        qi = downsample(q.ts, MAX_POINTS)
        qx = _x(q.ts[qi], r.run.start_ns, unit)
        m = inst.market
        mi = downsample(m.ts, MAX_POINTS)
        mx = _x(m.ts[mi], r.run.start_ns, unit)
        fair = r.fairs[name]
        fi = downsample(fair.ts, MAX_POINTS)
        fx = _x(fair.ts[fi], r.run.start_ns, unit)
        add = fig.add_trace
        add(go.Scatter(x=qx, y=_f32(q.reservation[qi]), name="reservation"), row=1, col=1)
        add(go.Scatter(x=qx, y=_f32(q.mid[qi]), name="quote mid"), row=1, col=1)
        add(go.Scatter(x=fx, y=_f32(fair.value[fi]), name=f"fair ({fair.source})"), row=1, col=1)
        spread = np.where(q.spread > 0, q.spread, np.nan)  # 0: one side had no ladder
        add(go.Scatter(x=qx, y=_f32(spread[qi]), name="our spread"), row=2, col=1)
        add(go.Scatter(x=mx, y=_f32((m.ask - m.bid)[mi]), name="book spread"), row=2, col=1)
        add(go.Scatter(x=qx, y=_f32(q.sigma[qi]), name="σ"), row=3, col=1)
        add(go.Scatter(x=qx, y=_f32(q.a[qi]), name="A (bid)"), row=4, col=1)
        add(go.Scatter(x=qx, y=_f32(q.k[qi]), name="k (bid)"), row=4, col=1)
        if np.isfinite(q.ask_a).any():
            add(go.Scatter(x=qx, y=_f32(q.ask_a[qi]), name="A (ask)"), row=4, col=1)
            add(go.Scatter(x=qx, y=_f32(q.ask_k[qi]), name="k (ask)"), row=4, col=1)
        fig.update_layout(title=f"Model: {name}")
        fig.update_xaxes(title_text=label, row=4, col=1)
        parts.append(_fig(fig, f"model-fig-{i}-{j}", 900))
    return "".join(parts) or "<p>no instruments</p>"


def _latency(r: RunReport, i: int) -> str:
    lat = r.latency
    note = (
        "<p class=\"note\">Order action to the venue's reply, from the journal's own stamps "
        "(the action when the engine made it, the reply when the runner handled it). "
        "Tick-to-order times and reconnects are not journaled (see the run summary).</p>"
    )
    if not lat.by_action:
        return "<p>no replies journaled</p>" + note
    fig = go.Figure()
    for action, v in lat.by_action.items():
        fig.add_trace(go.Histogram(x=np.log10(np.maximum(v, 1.0)), name=action, opacity=0.6))
    fig.update_layout(title="Action → reply (log10 µs)", barmode="overlay", xaxis_title="log10(µs)")
    rows = []
    for action in lat.by_action:
        n, p50, p90, p99, mx = lat.percentiles(action)
        rows.append([action, n, fmt(p50, ".0f"), fmt(p90, ".0f"), fmt(p99, ".0f"), fmt(mx, ".0f")])
    return (
        _fig(fig, f"latency-fig-{i}", 320)
        + _table(["action", "n", "p50 µs", "p90 µs", "p99 µs", "max µs"], rows)
        + note
    )


def _compare(reports: Sequence[RunReport]) -> str:
    eq = go.Figure()
    mk = go.Figure()
    for r in reports:
        p = r.pnl
        idx = downsample(p.ts, MAX_POINTS)
        eq.add_trace(
            go.Scatter(
                x=_x(p.ts[idx], r.run.start_ns, NS), y=_f32(p.net[idx]), name=r.run.info.run_id
            )
        )
        key, stats = next(iter(r.markouts.markout.items()), ("", []))
        mk.add_trace(
            go.Scatter(
                x=[f"{h:g} s" for h in r.markouts.horizons_s], y=[s.mean for s in stats],
                error_y={"type": "data", "array": [0.0 if s.n < 2 else s.ci for s in stats]},
                name=f"{r.run.info.run_id} {key}".strip(), mode="lines+markers",
            )
        )  # fmt: skip
    eq.update_layout(title="Net equity (USD)", xaxis_title="seconds since each run's start")
    mk.update_layout(
        title="Markout per unit, all fills (USD; first instrument)", xaxis_title="horizon"
    )
    quoting = _table(
        ["", *(r.run.info.run_id for r in reports)],
        [
            ["uptime both sides (%)", *(fmt(r.quoting.uptime_both * 100, ".2f") for r in reports)],
            ["actions per fill", *(fmt(r.quoting.actions_per_fill, ".2f") for r in reports)],
        ],
    )
    return (
        _table(["", *(f"run {j + 1}" for j in range(len(reports)))], headline_rows(reports))
        + quoting
        + _fig(eq, "compare-equity")
        + _fig(mk, "compare-markouts")
    )


_TITLES = {
    "headline": "Headline",
    "pnl": "PnL decomposition",
    "markouts": "Markouts and adverse selection",
    "quoting": "Quoting quality",
    "inventory": "Inventory and risk states",
    "model": "Model",
    "latency": "Latency",
}


def _run_block(r: RunReport, i: int) -> str:
    builders = {
        "headline": lambda: _headline(r),
        "pnl": lambda: _pnl(r, i),
        "markouts": lambda: _markouts(r, i),
        "quoting": lambda: _quoting(r, i),
        "inventory": lambda: _inventory(r, i),
        "model": lambda: _model(r, i),
        "latency": lambda: _latency(r, i),
    }
    body = "".join(
        f'<section id="{name}-{i}" data-section="{name}"><h2>{_TITLES[name]}</h2>'
        f"{builders[name]()}</section>"
        for name in SECTIONS
    )
    title = html.escape(f"Run {r.run.info.run_id} ({r.run.info.strategy or 'no strategy'})")
    return f'<div class="run" id="run-{i}"><h1>{title}</h1>{body}</div>'


def render(reports: Sequence[RunReport], *, compare: bool = False) -> str:
    """The whole page."""
    parts = []
    if compare and len(reports) > 1:
        parts.append(
            '<section id="compare" data-section="compare"><h2>Runs side by side</h2>'
            f"{_compare(reports)}</section>"
        )
    parts += [_run_block(r, i) for i, r in enumerate(reports)]
    title = "thalex-mm report: " + ", ".join(r.run.info.run_id for r in reports)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f'<p class="note">thalex-mm {__version__} report</p>{"".join(parts)}</body></html>'
    )
