"""``thalex-mm backtest``: a config's first instrument, replayed on a recorded window.

Builds the core's ``Engine`` from the same config ``thalex-mm run`` takes (its first
instrument; the window fixes tick and lot), the simulated venue from the command line (queue
model, latencies, fees), runs ``backtest.replay.Backtest`` and returns its summary.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thalex_mm.app.markouts import FillQuality
from thalex_mm.app.settings import AppConfig, load_config
from thalex_mm.backtest.data import find_window
from thalex_mm.backtest.replay import Backtest, Latency
from thalex_mm.backtest.venue import QueueModel, SimulatedVenue
from thalex_mm.core.config import EngineConfig, InstrumentConfig
from thalex_mm.core.engine import Engine
from thalex_mm.errors import UserError

_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class BacktestOptions:
    data: str
    config: Path | None = None
    queue: str = "risk-averse"
    latency_ms: tuple[float, float] = (0.0, 0.0)
    latency_from_feed: bool = False
    latency_jitter_ms: float = 0.0  # mean of an exponential added to each latency
    seed: int = 0
    fees: tuple[float, float] | None = None  # maker, taker rates; None: the config's
    partial_fills: bool = True
    progress: bool = True
    rate_limits: bool = True  # Thalex's message rates, as the local exchange applies them
    journal: str | None = None  # a journal URL: the run is recorded as a live run is


def parse_pair(flag: str, text: str) -> tuple[float, float]:
    """``A,B`` as two finite numbers; UserError naming the flag otherwise."""
    parts = text.split(",")
    try:
        a, b = (float(p) for p in parts)
    except ValueError:
        raise UserError(f"{flag} takes two numbers separated by a comma, got {text!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise UserError(f"{flag} takes finite numbers, got {text!r}")
    return a, b


def _engine(cfg: AppConfig, window_spec: Any, fees: tuple[float, float] | None) -> Engine:
    settings = cfg.instruments[0]
    accounting = settings.accounting
    if fees is not None:
        accounting = dataclasses.replace(accounting, maker_fee_rate=fees[0], taker_fee_rate=fees[1])
    try:
        inst = InstrumentConfig(
            window_spec, quote=settings.quote, quoter=settings.quoter, orders=settings.orders,
            risk=settings.risk, accounting=accounting, quoting=settings.quoting,
        )  # fmt: skip
        return Engine(EngineConfig((inst,)))
    except ValueError as exc:
        raise UserError(f"instruments[0]: {exc}") from None


def run_backtest(opts: BacktestOptions) -> dict[str, Any]:
    """Run one backtest; UserError (one line) for any bad input."""
    queue = QueueModel.parse(opts.queue)
    entry, response = opts.latency_ms
    if entry < 0 or response < 0:
        raise UserError(f"--latency-ms must be >= 0, got {entry:g},{response:g}")
    if opts.fees is not None and not all(-0.01 < f < 0.01 for f in opts.fees):
        raise UserError(f"--fees are rates of notional within ±0.01, got {opts.fees}")
    cfg = load_config(opts.config)
    window = find_window(opts.data)
    if window.market.contract_usd > 0:
        raise UserError(
            f"{window.name}: an inverse (coin-margined) window, in contracts of "
            f"{window.market.contract_usd:g} USD; backtests simulate linear instruments only"
        )
    spec = window.spec(cfg.instruments[0].name)
    engine = _engine(cfg, spec, opts.fees)
    accounting = engine.instruments[spec.name].cfg.accounting
    venue = SimulatedVenue(
        spec, queue, accounting.maker_fee_rate, accounting.taker_fee_rate,
        partial_fills=opts.partial_fills,
    )  # fmt: skip
    if opts.rate_limits:
        venue.with_thalex_limits(0)  # full buckets from the start of the window
    if not (0.0 <= opts.latency_jitter_ms < math.inf):
        raise UserError(f"--latency-jitter-ms must be >= 0, got {opts.latency_jitter_ms:g}")
    latency = Latency(
        int(entry * _MS), int(response * _MS), opts.latency_from_feed,
        int(opts.latency_jitter_ms * _MS), opts.seed,
    )  # fmt: skip
    quality = FillQuality()
    journal = _open_journal(opts.journal)
    hooks: dict[str, Any] = {}
    if journal is not None:
        hooks = _journal_hooks(journal, cfg, engine, venue, window.name)
    backtest = Backtest(
        engine, window, venue, latency, timer_ms=cfg.run.timer_interval_ms, observer=quality,
        **hooks,
    )  # fmt: skip
    bar = None
    if opts.progress and sys.stderr.isatty():
        from tqdm import tqdm  # noqa: PLC0415

        bar = tqdm(total=1000, desc=f"backtest {window.name}", unit="‰", leave=False)
    try:
        result = backtest.run(None if bar is None else lambda f: _advance(bar, f))
    finally:
        if journal is not None:
            journal.close("backtest done")
        if bar is not None:
            bar.close()
    summary = result.summary()
    quality.advance(int(1e30))  # nothing is due after the end: fills left waiting stay out
    volume = quality.volume
    summary["edge_at_fill"] = round(quality.edge, 6)
    summary["edge_per_unit"] = round(quality.edge / volume, 4) if volume else None
    summary["inventory_pnl"] = round(summary["pnl"] + summary["fees"] - quality.edge, 6)
    summary["markouts"] = {
        f"{h.seconds}s": {
            "per_unit": round(h.total / h.volume, 4) if h.volume else None,
            "fills": h.fills,
            "left_out": h.left_out,
        }
        for h in quality.horizons
    }
    summary["queue"] = opts.queue
    summary["latency_ms"] = list(opts.latency_ms)
    summary["latency_jitter_ms"] = opts.latency_jitter_ms
    summary["throttled"] = venue.throttled
    summary["seed"] = opts.seed
    summary["fee_rates"] = [venue.maker_fee, venue.taker_fee]
    return summary


def _open_journal(url: str | None) -> Any:
    if url is None:
        return None
    from thalex_mm.journal import JournalError, open_journal  # noqa: PLC0415

    try:
        return open_journal(url, writer="thread")
    except (JournalError, ValueError, OSError) as exc:
        raise UserError(f"cannot open journal {url!r}: {exc}") from None


def _journal_hooks(
    journal: Any, cfg: AppConfig, engine: Engine, venue: SimulatedVenue, window: str
) -> dict[str, Any]:
    """What the runner journals, from the backtest's own hooks: the run (venue
    ``backtest:<window>``), actions, decisions, order updates with their fills."""
    from thalex_mm import __version__  # noqa: PLC0415
    from thalex_mm.app.journaling import JournalBridge  # noqa: PLC0415
    from thalex_mm.app.runner import STRATEGY  # noqa: PLC0415
    from thalex_mm.app.settings import config_as_dict  # noqa: PLC0415
    from thalex_mm.core import events as ev  # noqa: PLC0415

    spec = venue.spec
    quote = cfg.instruments[0].quote
    bridge = JournalBridge(
        journal, STRATEGY, {spec.name: spec}, {spec.name: (quote.model, quote.gamma_usd)}
    )
    bridge.fair_at = lambda instrument, trade_id: venue.fair_at(trade_id)
    position = engine.instruments[spec.name].position
    started = [False]

    def on_core_event(e: Any) -> None:
        if not started[0]:
            started[0] = True
            journal.start_run(
                version=__version__, config=config_as_dict(cfg), venue=f"backtest:{window}",
                strategy=STRATEGY, ts_ns=e.now_ns,
            )  # fmt: skip
        if isinstance(e, ev.OrderUpdate):
            bridge.order_update(e, position.lots)

    return {
        "on_actions": bridge.actions,
        "on_decisions": bridge.decisions,
        "on_core_events": on_core_event,
    }


def _advance(bar: Any, fraction: float) -> None:
    bar.n = int(fraction * 1000)
    bar.refresh()


def _markouts(markouts: dict[str, dict[str, Any]]) -> str:
    parts = []
    for horizon, m in markouts.items():
        value = m["per_unit"]
        parts.append(f"{horizon} {'n/a' if value is None else format(value, '+.2f')}")
    return ", ".join(parts)


def format_summary(s: dict[str, Any]) -> str:
    edge = s["edge_per_unit"]
    lines = [
        f"backtest summary: {s['window']} as {s['instrument']}, {s['simulated_s']:.0f} s of "
        f"market in {s['wall_s']:.1f} s ({s['events_per_s']:,} events/s)",
        f"  fills     {s['fills']} fills, volume {s['volume']:g} (notional {s['notional']:,.2f})",
        f"  pnl       total {s['pnl']:+.4f} = edge at fill {s['edge_at_fill']:+.4f} + inventory "
        f"{s['inventory_pnl']:+.4f} - fees {s['fees']:.4f} "
        f"(before fees {s['pnl_before_fees']:+.4f})",
        f"  edge      {'n/a' if edge is None else f'{edge:+.2f}'} per unit against the book's mid"
        " before the fill; markouts " + _markouts(s["markouts"]),
        f"  position  final {s['final_position']:+g}, max inventory {s['max_inventory']:g}",
        f"  venue     queue {s['queue']}, latency {s['latency_ms'][0]:g}/{s['latency_ms'][1]:g} ms,"
        f" fees maker {s['fee_rates'][0]:g} taker {s['fee_rates'][1]:g}",
    ]
    return "\n".join(lines)
