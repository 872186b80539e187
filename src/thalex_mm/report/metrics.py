"""The report's numbers, computed from one run's arrays (pure: no I/O, no clock).

Fair value is the journal's mark: each fill's own ``fair`` (the mark the engine saw when it
filled), and after a fill the market snapshots' mark (the mid of the best bid and ask where a
snapshot has no mark). A journal without market snapshots falls back to the quote decisions'
``mid``. ``FairSeries.source`` says which one a report used.

For a fill with side s = ±1, price p, amount a and fair f at fill:

- edge at fill = s·(f − p)·a; markout(h) per unit = s·(f(t+h) − p), f(t+h) the fair as of h
  after the fill (only fills whose horizon ends before the fair series does count);
- adverse selection(h) = markout(h) − markout(0) = s·(f(t+h) − f);
- inventory PnL at T = Σ s·a·(F(T) − f) over the fills before T, F(T) the fair at T.

So edge + inventory = cash + position·F(T): the gross trading PnL, exactly; fees are
subtracted from it for the net equity. Funding is not in the journal (reported as such).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from thalex_mm.report.load import F64, I64, InstrumentData, RunData

Mask = NDArray[np.bool_]

NS = 1_000_000_000
HORIZONS_S: tuple[float, ...] = (0.0, 0.1, 1.0, 5.0, 30.0, 60.0)
SHARPE_INTERVALS_S: tuple[int, ...] = (1, 5, 10, 60, 300, 900, 3600)
MIN_INTERVALS = 30  # the Sharpe interval is the longest that gives at least this many
YEAR_S = 365 * 86_400
Z95 = 1.959963984540054  # two-sided 95 % normal quantile
ACTIVE_STATES = ("open", "partially_filled")


@dataclass(frozen=True, slots=True)
class FairSeries:
    ts: I64
    value: F64
    source: str  # "market mark" | "quote mid" | "none"


def fair_series(inst: InstrumentData) -> FairSeries:
    """The instrument's fair over time: market marks (book mid where no mark), else the
    quote decisions' mid."""
    m = inst.market
    value = np.where(np.isnan(m.mark), (m.bid + m.ask) / 2.0, m.mark)
    ok = np.isfinite(value) & (value > 0)
    if ok.any():
        return FairSeries(m.ts[ok], value[ok], "market mark")
    q = inst.quotes
    ok = np.isfinite(q.mid) & (q.mid > 0)
    if ok.any():
        return FairSeries(q.ts[ok], q.mid[ok], "quote mid")
    return FairSeries(np.zeros(0, np.int64), np.zeros(0), "none")


def asof(ts: I64, values: F64, at: I64) -> F64:
    """``values`` as of each time in ``at`` (the last one at or before it; NaN before the
    first)."""
    if len(ts) == 0:
        return np.full(len(at), np.nan)
    idx = np.searchsorted(ts, at, side="right") - 1
    out = values[np.clip(idx, 0, None)].astype(np.float64)
    out[idx < 0] = np.nan
    return out


# --- PnL ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Pnl:
    """PnL components at times ``ts`` (USD), summed over the run's instruments."""

    ts: I64
    edge: F64
    inventory: F64
    carried: F64
    fees: F64
    position: dict[str, F64]  # per instrument, at ts

    @property
    def gross(self) -> F64:
        return self.edge + self.inventory + self.carried

    @property
    def net(self) -> F64:
        return self.gross - self.fees


def fill_fairs(inst: InstrumentData, fair: FairSeries) -> F64:
    """Each fill's fair: its journaled one, else the fair series' as of the fill, else its
    own price (no edge: the move goes to inventory)."""
    f = inst.fills
    out = np.where(np.isnan(f.fair), asof(fair.ts, fair.value, f.ts), f.fair)
    return np.where(np.isnan(out), f.price, out)


def start_position(inst: InstrumentData) -> float:
    """The position before the run's first fill (taken over from before the run)."""
    f = inst.fills
    if len(f.ts) == 0 or math.isnan(f.position_after[0]):
        return 0.0
    return float(f.position_after[0] - f.side[0] * f.amount[0])


def pnl_at(run: RunData, fairs: dict[str, FairSeries], ts: I64) -> Pnl:
    n = len(ts)
    edge, inv, carried, fees = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    positions: dict[str, F64] = {}
    for name, inst in run.instruments.items():
        f, fair = inst.fills, fairs[name]
        ff = fill_fairs(inst, fair)
        signed = f.side * f.amount
        zero = np.zeros(1)
        c_pos = np.concatenate([zero, np.cumsum(signed)])
        c_edge = np.concatenate([zero, np.cumsum(f.side * (ff - f.price) * f.amount)])
        c_sfa = np.concatenate([zero, np.cumsum(signed * ff)])
        c_fee = np.concatenate([zero, np.cumsum(f.fee)])
        k = np.searchsorted(f.ts, ts, side="right")
        mark = asof(fair.ts, fair.value, ts)
        last_fill = asof(f.ts, ff, ts)
        mark = np.where(np.isnan(mark), last_fill, mark)
        q0 = start_position(inst)
        pos = c_pos[k]
        inventory = np.where(pos == 0, 0.0, pos * np.nan_to_num(mark)) - c_sfa[k]
        edge += c_edge[k]
        inv += inventory
        fees += c_fee[k]
        if q0:
            mark0 = fair.value[0] if len(fair.value) else (ff[0] if len(ff) else 0.0)
            carried += q0 * (np.nan_to_num(mark, nan=mark0) - mark0)
        positions[name] = pos + q0
    return Pnl(ts, edge, inv, carried, fees, positions)


def event_times(run: RunData, fairs: dict[str, FairSeries]) -> I64:
    """Every time the equity can change: fills and fair updates, plus start and stop."""
    parts = [np.array([run.start_ns, run.stop_ns], dtype=np.int64)]
    for name, inst in run.instruments.items():
        parts += [inst.fills.ts, fairs[name].ts]
    ts = np.unique(np.concatenate(parts))
    return ts[(ts >= run.start_ns) & (ts <= run.stop_ns)]


@dataclass(frozen=True, slots=True)
class RiskRatios:
    interval_s: int
    intervals: int
    sharpe: float  # per interval (mean / std of equity changes), not annualised
    sortino: float
    sharpe_annual: float
    sortino_annual: float


def sharpe_interval(duration_s: float) -> int:
    """The longest of SHARPE_INTERVALS_S giving at least MIN_INTERVALS intervals."""
    best = SHARPE_INTERVALS_S[0]
    for s in SHARPE_INTERVALS_S:
        if duration_s / s >= MIN_INTERVALS:
            best = s
    return best


def risk_ratios(run: RunData, fairs: dict[str, FairSeries]) -> RiskRatios:
    duration_s = (run.stop_ns - run.start_ns) / NS
    step = sharpe_interval(duration_s)
    grid = np.arange(run.start_ns, run.stop_ns + 1, step * NS, dtype=np.int64)
    d = np.diff(pnl_at(run, fairs, grid).net)
    nan = math.nan
    if len(d) < 2:
        return RiskRatios(step, len(d), nan, nan, nan, nan)
    std = float(np.std(d, ddof=1))
    down = float(np.sqrt(np.mean(np.minimum(d, 0.0) ** 2)))
    mean = float(np.mean(d))
    sharpe = mean / std if std > 0 else nan
    sortino = mean / down if down > 0 else nan
    scale = math.sqrt(YEAR_S / step)
    return RiskRatios(step, len(d), sharpe, sortino, sharpe * scale, sortino * scale)


# --- headline -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Headline:
    run_id: str
    duration_s: float
    fills: int
    maker_fills: int
    volume: float
    notional: float
    total_pnl: float
    pnl_per_hour: float
    ratios: RiskRatios
    max_drawdown: float
    return_bps: float  # total PnL over notional traded, in basis points
    edge: float
    inventory: float
    carried: float
    fees_paid: float
    rebates: float
    fair_source: str
    funding: float | None = None  # not journaled


def headline(run: RunData, fairs: dict[str, FairSeries], pnl: Pnl) -> Headline:
    fills = [i.fills for i in run.instruments.values()]
    n = sum(len(f.ts) for f in fills)
    volume = float(sum(f.amount.sum() for f in fills))
    notional = float(sum((f.price * f.amount).sum() for f in fills))
    fees = np.concatenate([f.fee for f in fills]) if fills else np.zeros(0)
    duration_s = (run.stop_ns - run.start_ns) / NS
    total = float(pnl.net[-1]) if len(pnl.ts) else 0.0
    net = pnl.net
    drawdown = float(np.max(np.maximum.accumulate(net) - net)) if len(net) else 0.0
    sources = sorted({fairs[name].source for name in run.instruments}) or ["none"]
    return Headline(
        run_id=run.info.run_id,
        duration_s=duration_s,
        fills=n,
        maker_fills=int(sum(f.maker.sum() for f in fills)),
        volume=volume,
        notional=notional,
        total_pnl=total,
        pnl_per_hour=total / (duration_s / 3600) if duration_s > 0 else math.nan,
        ratios=risk_ratios(run, fairs),
        max_drawdown=drawdown,
        return_bps=total / notional * 1e4 if notional > 0 else math.nan,
        edge=float(pnl.edge[-1]) if len(pnl.ts) else 0.0,
        inventory=float(pnl.inventory[-1]) if len(pnl.ts) else 0.0,
        carried=float(pnl.carried[-1]) if len(pnl.ts) else 0.0,
        fees_paid=float(fees[fees > 0].sum()),
        rebates=float(-fees[fees < 0].sum()) + 0.0,  # + 0.0: never -0.0
        fair_source=", ".join(sources),
    )


# --- markouts -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Stat:
    """Mean of per-fill values with a 95 % normal confidence half-width."""

    n: int
    mean: float
    ci: float
    total: float = 0.0  # USD: Σ value·amount
    toxic: float = math.nan  # share of fills with a negative markout


def _stat(values: F64, amounts: F64, *, toxic: bool = False) -> Stat:
    n = len(values)
    if n == 0:
        return Stat(0, math.nan, math.nan)
    mean = float(values.mean())
    ci = Z95 * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    share = float((values < 0).mean()) if toxic else math.nan
    return Stat(n, mean, ci, float((values * amounts).sum()), share)


def fill_levels(inst: InstrumentData) -> I64:
    """Each fill's ladder level (1 = best): the level of the latest quote decision before it
    whose price is nearest the fill's, on the fill's side; 0 when no decision precedes it."""
    f, q = inst.fills, inst.quotes
    idx = np.searchsorted(q.ts, f.ts, side="right") - 1
    out = np.zeros(len(f.ts), dtype=np.int64)
    for i, j in enumerate(idx):
        if j < 0:
            continue
        ladder = q.bids[j] if f.side[i] > 0 else q.asks[j]
        if ladder:
            prices = np.array([lv[0] for lv in ladder])
            out[i] = int(np.argmin(np.abs(prices - f.price[i]))) + 1
    return out


@dataclass(frozen=True, slots=True)
class Markouts:
    """Per group ("all", "buy", "sell", "level 1", ...): per horizon, the markout and the
    adverse selection per unit (USD per contract), with confidence intervals."""

    horizons_s: tuple[float, ...]
    markout: dict[str, list[Stat]]
    adverse: dict[str, list[Stat]]
    left_out: list[int]  # per horizon: fills whose horizon ends after the fair series


def markouts(run: RunData, fairs: dict[str, FairSeries]) -> Markouts:
    keys: list[str] = []  # "all", "buy", "sell", "level 1", ...; per instrument if several
    left_out = [0] * len(HORIZONS_S)
    per_h: list[dict[str, tuple[F64, F64, F64]]] = [{} for _ in HORIZONS_S]
    for name, inst in run.instruments.items():
        f, fair = inst.fills, fairs[name]
        if len(f.ts) == 0:
            continue
        prefix = instrument_prefix(run, name)
        f0 = fill_fairs(inst, fair)
        masks = _group_masks(f.side, fill_levels(inst))
        keys += [prefix + k for k in masks]
        end = fair.ts[-1] if len(fair.ts) else run.stop_ns
        for hi, h in enumerate(HORIZONS_S):
            at = f.ts + round(h * NS)
            fh = f0 if h == 0 else asof(fair.ts, fair.value, at)
            ok = (at <= end) & np.isfinite(fh) if h else np.ones(len(f.ts), dtype=np.bool_)
            left_out[hi] += int((~ok).sum())
            m = f.side * (fh - f.price)
            adv = f.side * (fh - f0)
            for key, mask in masks.items():
                sel = mask & ok
                per_h[hi][prefix + key] = (m[sel], adv[sel], f.amount[sel])
    mk: dict[str, list[Stat]] = {k: [] for k in keys}
    ad: dict[str, list[Stat]] = {k: [] for k in keys}
    for rows in per_h:
        for key in keys:
            m, a, amt = rows[key]
            mk[key].append(_stat(m, amt, toxic=True))
            ad[key].append(_stat(a, amt))
    return Markouts(HORIZONS_S, mk, ad, left_out)


def instrument_prefix(run: RunData, name: str) -> str:
    """Per-unit numbers of different instruments do not add up: with several instruments,
    their groups are kept apart under the instrument's name."""
    return f"{name} " if len(run.instruments) > 1 else ""


def _group_masks(side: F64, levels: I64) -> dict[str, Mask]:
    masks: dict[str, Mask] = {
        "all": np.ones(len(side), dtype=np.bool_),
        "buy": side > 0,
        "sell": side < 0,
    }
    for lv in sorted(set(levels.tolist()) - {0}):
        masks[f"level {lv}"] = levels == lv
    return masks


# --- quoting quality ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LiveBook:
    """Our live orders over time, rebuilt from the order updates: at ``ts`` the count of
    live bids and asks and our best bid and ask (NaN when none) from then on."""

    ts: I64
    bids: I64
    asks: I64
    best_bid: F64
    best_ask: F64


def live_book(inst: InstrumentData) -> LiveBook:
    u = inst.updates
    live: dict[str, tuple[float, float]] = {}  # order id -> (side, price)
    n = len(u.ts)
    bids, asks = np.zeros(n, np.int64), np.zeros(n, np.int64)
    best_bid, best_ask = np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        oid = u.order_id[i]
        if u.status[i] in ACTIVE_STATES and not math.isnan(u.price[i]):
            live[oid] = (u.side[i], u.price[i])
        else:
            live.pop(oid, None)
        b = [p for s, p in live.values() if s > 0]
        a = [p for s, p in live.values() if s < 0]
        bids[i], asks[i] = len(b), len(a)
        if b:
            best_bid[i] = max(b)
        if a:
            best_ask[i] = min(a)
    return LiveBook(u.ts, bids, asks, best_bid, best_ask)


def _time_where(ts: I64, flag: Mask, start: int, stop: int) -> float:
    """Seconds in [start, stop] during which the step function ``flag`` (set at ``ts``) holds."""
    if len(ts) == 0:
        return 0.0
    edges = np.clip(np.concatenate([ts, [stop]]), start, stop)
    return float((np.diff(edges) * flag).sum()) / NS


@dataclass(frozen=True, slots=True)
class Quoting:
    uptime_both: float  # share of the run with a live bid and a live ask on the venue
    uptime_bid: float
    uptime_ask: float
    touch_bid: float  # share of market snapshots where our best bid was the book's best
    touch_ask: float
    distance: dict[str, list[float]]  # "bid"/"ask" -> mean distance from fair per level (USD)
    fills_per_level: dict[str, int]
    fill_rate_per_min: dict[str, float]  # fills per minute of the instrument's two-sided quoting
    actions: dict[str, int]
    actions_per_fill: float
    endings: dict[str, int]  # why orders ended (the venue's delete reason)
    rejects: dict[str, int]  # guard rejections and order anomalies by reason


def quoting(run: RunData, fairs: dict[str, FairSeries]) -> Quoting:
    duration = max((run.stop_ns - run.start_ns) / NS, 1e-9)
    both = bid_t = ask_t = 0.0
    touch_b: list[float] = []
    touch_a: list[float] = []
    dist: dict[str, list[list[float]]] = {}
    per_level: Counter[str] = Counter()
    rate: dict[str, float] = {}
    actions: Counter[str] = Counter()
    endings: Counter[str] = Counter()
    fills = 0
    for name, inst in run.instruments.items():
        book = live_book(inst)
        two_sided = _time_where(
            book.ts, (book.bids > 0) & (book.asks > 0), run.start_ns, run.stop_ns
        )
        both += two_sided
        bid_t += _time_where(book.ts, book.bids > 0, run.start_ns, run.stop_ns)
        ask_t += _time_where(book.ts, book.asks > 0, run.start_ns, run.stop_ns)
        m = inst.market
        if len(m.ts) and len(book.ts):
            ours_b = asof(book.ts, book.best_bid, m.ts)
            ours_a = asof(book.ts, book.best_ask, m.ts)
            eps = 1e-9
            touch_b += list(np.where(np.isnan(m.bid), 0.0, ours_b >= m.bid - eps))
            touch_a += list(np.where(np.isnan(m.ask), 0.0, ours_a <= m.ask + eps))
        prefix = instrument_prefix(run, name)
        q, fair = inst.quotes, fairs[name]
        f_at = asof(fair.ts, fair.value, q.ts)
        for j in range(len(q.ts)):
            if math.isnan(f_at[j]):
                continue
            for side, ladder, sign in (("bid", q.bids[j], 1.0), ("ask", q.asks[j], -1.0)):
                row = [sign * (f_at[j] - lv[0]) for lv in ladder]
                dist.setdefault(prefix + side, []).append(row)
        levels = fill_levels(inst)
        labels: Counter[str] = Counter(
            prefix + (f"{'bid' if side > 0 else 'ask'} {lv}" if lv else "unknown")
            for side, lv in zip(inst.fills.side, levels, strict=True)
        )
        per_level.update(labels)
        for label, count in labels.items():
            rate[label] = count / (two_sided / 60) if two_sided > 0 else math.nan
        fills += len(inst.fills.ts)
        actions.update(inst.actions.action)
        endings.update(
            r for r, s in zip(inst.updates.delete_reason, inst.updates.status, strict=True)
            if s not in ACTIVE_STATES and r
        )  # fmt: skip
    rejects: Counter[str] = Counter(
        f"{e.kind}: {_reason(e.detail)}"
        for e in run.risk
        if e.kind in ("guard_rejection", "order_anomaly")
    )
    n_inst = max(len(run.instruments), 1)
    return Quoting(
        uptime_both=both / duration / n_inst,
        uptime_bid=bid_t / duration / n_inst,
        uptime_ask=ask_t / duration / n_inst,
        touch_bid=float(np.mean(touch_b)) if touch_b else math.nan,
        touch_ask=float(np.mean(touch_a)) if touch_a else math.nan,
        distance={side: _column_means(rows) for side, rows in dist.items()},
        fills_per_level=dict(sorted(per_level.items())),
        fill_rate_per_min=dict(sorted(rate.items())),
        actions=dict(sorted(actions.items())),
        actions_per_fill=sum(actions.values()) / fills if fills else math.nan,
        endings=dict(endings.most_common()),
        rejects=dict(rejects.most_common()),
    )


_ORDER_IDS = re.compile(r"(, )?cid [^,)]*(, oid [^,)]*)?")


def _reason(detail: str) -> str:
    """The reason without the per-order ids, so rejects group by cause: "rejected (code 1,
    cid 201, oid 0A)" becomes "rejected (code 1)"."""
    return _ORDER_IDS.sub("", detail).replace(" ()", "")


def _column_means(rows: list[list[float]]) -> list[float]:
    depth = max((len(r) for r in rows), default=0)
    out = []
    for i in range(depth):
        col = [r[i] for r in rows if len(r) > i]
        out.append(float(np.mean(col)))
    return out


# --- inventory and risk -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Inventory:
    instrument: str
    positions: F64  # distinct position values held ...
    seconds: F64  # ... and for how long
    at_limit_s: float
    limit: float | None
    max_abs: float


def inventory(run: RunData, inst: InstrumentData) -> Inventory:
    f = inst.fills
    q0 = start_position(inst)
    pos = q0 + np.concatenate([[0.0], np.cumsum(f.side * f.amount)])
    ts = np.concatenate([[run.start_ns], f.ts]).astype(np.int64)
    held = np.diff(np.clip(np.concatenate([ts, [run.stop_ns]]), run.start_ns, run.stop_ns)) / NS
    values, inverse = np.unique(np.round(pos, 9), return_inverse=True)
    seconds = np.bincount(inverse, weights=held, minlength=len(values)).astype(np.float64)
    limit = inst.max_position
    at_limit = float(held[np.abs(pos) >= limit * (1 - 1e-9)].sum()) if limit else 0.0
    return Inventory(
        inst.name, values, seconds, at_limit, limit, float(np.abs(pos).max()) if len(pos) else 0
    )


@dataclass(frozen=True, slots=True)
class RiskStates:
    seconds: dict[
        str, float
    ]  # state -> time in it (the run starts ACTIVE); per instrument if several
    changes: list[tuple[int, str, str, str]]  # (ts, instrument, state, reason)
    events: dict[str, int]  # risk event kind -> count
    notable: list[tuple[int, str, str, str, str]]  # kill switches, take profits, ... (first 200)


def risk_states(run: RunData) -> RiskStates:
    seconds: dict[str, float] = {}
    changes: list[tuple[int, str, str, str]] = []
    for name in list(run.instruments) or [""]:
        prefix = instrument_prefix(run, name)
        state, since = "ACTIVE", run.start_ns
        for e in run.risk:
            if e.kind != "state" or e.instrument != name:
                continue
            key = prefix + state
            seconds[key] = seconds.get(key, 0.0) + (min(e.ts, run.stop_ns) - since) / NS
            state, since = e.state, max(e.ts, run.start_ns)
            changes.append((e.ts, e.instrument, e.state, e.detail))
        key = prefix + state
        seconds[key] = seconds.get(key, 0.0) + max(run.stop_ns - since, 0) / NS
    notable = [
        (e.ts, e.instrument, e.kind, e.state, e.detail)
        for e in run.risk
        if e.kind not in ("state", "no_quote")
    ]
    return RiskStates(
        seconds, sorted(changes), dict(Counter(e.kind for e in run.risk)), notable[:200]
    )


# --- latency ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Latency:
    """Order action to the venue's reply, from the journal's stamps (microseconds)."""

    by_action: dict[str, F64] = field(default_factory=dict)

    def percentiles(self, action: str) -> tuple[int, float, float, float, float]:
        v = self.by_action[action]
        p50, p90, p99 = np.percentile(v, [50, 90, 99])
        return len(v), float(p50), float(p90), float(p99), float(v.max())


def latency(run: RunData) -> Latency:
    """Each insert, amend or cancel paired with the first reply on its client order id after
    it and no later than that order's next action: a reply stamped in the same instant as an
    action answers the one before, and an action whose answer was a rejection (not an order
    update) gets no reply rather than the next action's."""
    out: dict[str, list[float]] = {}
    for inst in run.instruments.values():
        u, a = inst.updates, inst.actions
        replies: dict[int, list[int]] = {}
        for ts, cid, rep in zip(u.ts.tolist(), u.client_order_id.tolist(), u.reply, strict=True):
            if rep and cid >= 0:
                replies.setdefault(cid, []).append(ts)
        actions: dict[int, list[tuple[int, str]]] = {}
        for ts, cid, action in zip(
            a.ts.tolist(), a.client_order_id.tolist(), a.action, strict=True
        ):
            if cid >= 0:
                actions.setdefault(cid, []).append((ts, action))
        for cid, sent in actions.items():
            times = replies.get(cid, [])
            for i, (ts, action) in enumerate(sent):
                j = bisect.bisect_right(times, ts)
                limit = sent[i + 1][0] if i + 1 < len(sent) else math.inf
                if action in ("insert", "amend", "cancel") and j < len(times) and times[j] <= limit:
                    out.setdefault(action, []).append((times[j] - ts) / 1e3)
    return Latency({k: np.array(v) for k, v in sorted(out.items())})


# --- everything ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RunReport:
    run: RunData
    fairs: dict[str, FairSeries]
    pnl: Pnl  # at every event time (full resolution; the HTML downsamples)
    headline: Headline
    markouts: Markouts
    quoting: Quoting
    inventory: list[Inventory]
    risk: RiskStates
    latency: Latency


def build(run: RunData) -> RunReport:
    fairs = {name: fair_series(inst) for name, inst in run.instruments.items()}
    pnl = pnl_at(run, fairs, event_times(run, fairs))
    return RunReport(
        run=run,
        fairs=fairs,
        pnl=pnl,
        headline=headline(run, fairs, pnl),
        markouts=markouts(run, fairs),
        quoting=quoting(run, fairs),
        inventory=[inventory(run, inst) for inst in run.instruments.values()],
        risk=risk_states(run),
        latency=latency(run),
    )


def downsample(ts: I64, max_points: int) -> I64:
    """Indices of at most ``max_points`` points spread over time (the last of each time
    bucket, and the first point), so a day's series plots quickly."""
    n = len(ts)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    span = max(int(ts[-1] - ts[0]), 1)
    bucket = ((ts - ts[0]) * (max_points - 1) // span).astype(np.int64)
    last = np.flatnonzero(np.diff(bucket) != 0)
    return np.unique(np.concatenate([[0], last, [n - 1]])).astype(np.int64)
