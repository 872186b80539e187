"""The desired ladder for one instrument: estimators → model (A–S or GLFT + ladder) → risk.

Estimator inputs are checked first: a crossed book, a non-finite price or one further than
``input_band`` from the mark never reaches σ, A or k; it is counted in ``rejected_inputs``
with the last reason in ``last_rejection`` (one bad frame must not poison the model). Then
the fair price (the mark, or the mid of the others' quotes) feeds the grid volatility, the
book as the takers see it feeds the intensity fit's exposure, and each public sweep (the
trades of one taker: same exchange time and side) its reach from fair, per side
(``model/estimators/reach.py``). Our own fills are counted per side so a fit dominated by
them cannot quote tighter.

The model turns (mid, σ, per-side A and k, position, the maker fee per contract, the
signals' shift and widening) into a ladder; the risk permit then shapes it: sides that may
not quote are emptied, sizes are scaled in recovery, each side is trimmed to the lots it may
still add (position limit minus position), and take-profit puts one post-only order at the
touch on the reducing side; every level is capped at the maximum order size. Finally each
side is shifted behind the opposite best price, because a post-only order would otherwise be
repriced by the venue and the next cycle would chase it.

The maker fee is the venue's: learnt from fills that carry their fee (fee / notional of a
maker fill), the configured ``accounting.maker_fee_rate`` until one arrives.

The model is re-run only when one of its inputs changed, so replies and fills that do not
move the market cost a comparison, not a model evaluation. Each model ladder's total and
largest size per side are kept with it, so shaping a ladder that fits the room (the usual
case) is a few comparisons.
"""

from __future__ import annotations

import math
from typing import Any

from thalex_mm.core.actions import Ladder
from thalex_mm.core.config import QuoterConfig
from thalex_mm.core.events import Fill, PublicTrade
from thalex_mm.core.market_state import MarketState
from thalex_mm.core.risk import RiskPermit
from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.model.estimators import GridVolatility, VampEstimator, VolumeCandles
from thalex_mm.model.estimators.reach import ASK, BID, ReachIntensity
from thalex_mm.model.quote import (
    Level,
    MarketInputs,
    NoQuote,
    QuoteDecision,
    QuoteEngine,
    QuoteParams,
)

_new_level = tuple.__new__
_SELL = Side.SELL
_BUY = Side.BUY
_INF = math.inf
Limits = tuple[int, int]  # (min lots, max lots) of one order


class Quoter:
    __slots__ = (
        "_candle_shift",
        "_cap_at_touch",
        "_inputs_version",
        "_key",
        "_key_position",
        "_key_version",
        "_result",
        "_sizes",
        "_sweep",
        "_vamp_shift",
        "_vamp_weight",
        "candles",
        "cfg",
        "engine",
        "fair",
        "fee_rate",
        "inputs",
        "intensity",
        "interval_ns",
        "last_decision",
        "last_mid",
        "last_rejection",
        "limits",
        "rejected_inputs",
        "shift",
        "spec",
        "step",
        "step_origin",
        "vamp",
        "volatility",
        "widen",
    )

    def __init__(
        self,
        spec: InstrumentSpec,
        params: QuoteParams,
        cfg: QuoterConfig,
        max_order_lots: int = 1 << 62,
        maker_fee_rate: float = 0.0,
    ) -> None:
        self.spec = spec
        self.limits: Limits = (spec.min_lots, max(spec.min_lots, max_order_lots))
        self.cfg = cfg
        self.engine = QuoteEngine(params, spec)
        self._cap_at_touch = params.cap_at_touch
        self.interval_ns = int(cfg.requote_interval_ms * 1_000_000)  # 0: every cycle
        self.step = -1  # the last step of that grid a cycle quoted in
        self.step_origin = -1  # the grid's start: the first cycle's time
        self.volatility = GridVolatility(
            cfg.sigma_interval_s,
            cfg.sigma_halflife_s,
            fast_half_life_s=cfg.sigma_fast_halflife_s,
            stressed_ratio=cfg.stressed_ratio,
            min_samples=cfg.min_sigma_samples,
        )
        self.intensity: ReachIntensity | None = None
        if cfg.fit_intensity:
            self.intensity = ReachIntensity(
                spec.tick_size,
                half_life_s=cfg.intensity_window_s,
                refit_interval_s=cfg.intensity_refit_s,
                max_depth_ticks=cfg.intensity_depth_ticks,
                min_sweeps=cfg.intensity_min_sweeps,
                default_A=cfg.A,
                default_k=cfg.k,
                own_share_limit=cfg.own_share_limit,
            )
        self.vamp: VampEstimator | None = None
        self._vamp_weight = 1.0 if cfg.use_vamp else cfg.vamp_weight
        if self._vamp_weight > 0.0:
            depth = max(cfg.vamp_depth_lots, spec.min_lots) * spec.amount_step
            self.vamp = VampEstimator(depth)
        self.candles: VolumeCandles | None = None
        if cfg.candle_volume > 0.0:
            self.candles = VolumeCandles(cfg.candle_volume, cfg.candle_history)
        self.fee_rate = maker_fee_rate  # the maker fee as a fraction of notional
        self.last_mid = math.nan  # the mid of the others' quotes: the model's centre
        self.fair = math.nan  # the fair price takers' reach and σ are measured from
        self.shift = 0.0  # the signals' centre shift and widening, price units
        self.widen = 0.0
        self._vamp_shift = 0.0  # the parts of ``shift``
        self._candle_shift = 0.0
        self.rejected_inputs = 0
        self.last_rejection = ""
        # the sweep being collected: [(exchange ns, side), side index, deepest ticks,
        # reach from fair, next level's distance or None, lots]
        self._sweep: list[Any] | None = None
        self.inputs: MarketInputs | None = None  # what the model last saw (for the journal)
        self.last_decision: QuoteDecision | None = None
        self._key: tuple[float, ...] | None = None
        self._result: tuple[Ladder, Ladder] | NoQuote = NoQuote("not computed yet")
        # (total, largest) lots of the bid side, then of the ask side, of ``_result``
        self._sizes = (0, 0, 0, 0)
        # bumped whenever an estimator is fed: with it and the position unchanged since the
        # last call, the model's inputs are unchanged (no need to build and compare the key)
        self._inputs_version = 0
        self._key_version = -1
        self._key_position = 0

    # --- estimator feeds ----------------------------------------------------------------
    def _refuse(self, reason: str) -> None:
        self.rejected_inputs += 1
        self.last_rejection = reason

    def on_market(
        self,
        now_ns: int,
        market: MarketState,
        own: tuple[dict[int, int], dict[int, int]] | None = None,
        best_own: tuple[int, int] = (0, 0),
    ) -> None:
        """After a book/top/ticker change: the others' mid, the fair price, σ and the book
        the takers see. ``own``: our resting lots per price (bids, asks) when they may be
        part of the book the mid comes from; they are taken off first."""
        mark = market.mark_price
        if not (0.0 <= mark < _INF):
            self._refuse(f"mark price {mark} is not a finite price")
            return
        if market.bid_lots > 0 and market.ask_lots > 0 and market.bid_ticks >= market.ask_ticks:
            self._refuse(f"crossed book ({market.bid_ticks} >= {market.ask_ticks} ticks)")
            return
        plain = market.mid() if own is None else market.mid_excluding(own[0], own[1])
        if math.isnan(plain):
            return  # one side empty: nothing to learn, nothing wrong
        if mark > 0.0 and abs(plain / mark - 1.0) > self.cfg.input_band:
            self._refuse(f"mid {plain:g} is {abs(plain / mark - 1.0):.1%} from the mark {mark:g}")
            return
        fair = mark if mark > 0.0 and self.cfg.fair_source == "mark" else plain
        version = self._inputs_version
        if self.vamp is not None:
            if own is None:
                bids, asks = market.levels(8)
            else:
                bids, asks = market.levels_excluding(8, own[0], own[1])
            value = self.vamp.update(now_ns, bids, asks)
            shift = 0.0 if value is None else self._vamp_weight * (value - plain)
            if shift != self._vamp_shift:
                self._vamp_shift = shift
                self.shift = shift + self._candle_shift
                version += 1
        vol = self.volatility
        samples = vol.samples
        vol.update(now_ns, fair)
        if vol.samples != samples:
            version += 1
        self.fair = fair
        intensity = self.intensity
        if intensity is not None:
            tick = self.spec.tick_size
            own_bid, own_ask = best_own
            intensity.observe_book(
                now_ns,
                fair,
                market.bid_ticks * tick if market.bid_lots > 0 else None,
                market.ask_ticks * tick if market.ask_lots > 0 else None,
                own_bid * tick if own_bid else None,
                own_ask * tick if own_ask else None,
            )
        if plain != self.last_mid:
            self.last_mid = plain
            version += 1
        self._inputs_version = version

    def on_public_trade(self, e: PublicTrade, market: MarketState) -> None:
        """One print of the public tape: into the sweep it belongs to, and the candles."""
        tick = self.spec.tick_size
        price = e.price_ticks * tick
        fair = self.fair
        if not (0.0 < price < _INF) or math.isnan(fair):
            return
        if abs(price / fair - 1.0) > self.cfg.input_band:
            self._refuse(f"trade at {price:g} is {abs(price / fair - 1.0):.1%} from fair")
            return
        if self.candles is not None and e.amount_lots > 0:
            closed = self.candles.on_trade(
                e.now_ns, price, e.amount_lots * self.spec.amount_step, int(e.side)
            )
            if closed:
                self._candle_signals()
        if self.intensity is None:
            return
        key = (e.ts_ns or e.now_ns, int(e.side))
        sweep = self._sweep
        buy = e.side is _BUY
        if sweep is not None and sweep[0] == key:
            deeper = e.price_ticks > sweep[2] if buy else e.price_ticks < sweep[2]
            sweep[5] += e.amount_lots
            if not deeper:
                return
        else:
            self._finish_sweep()
            sweep = self._sweep = [key, ASK if buy else BID, 0, 0.0, None, e.amount_lots]
        deepest = e.price_ticks
        sweep[2] = deepest
        if buy:
            sweep[3] = deepest * tick - fair
            beyond = [p for p, lots in market.asks.items() if p > deepest and lots > 0]
            sweep[4] = min(beyond) * tick - fair if beyond else None
        else:
            sweep[3] = fair - deepest * tick
            beyond = [p for p, lots in market.bids.items() if p < deepest and lots > 0]
            sweep[4] = fair - max(beyond) * tick if beyond else None

    def _finish_sweep(self) -> None:
        sweep = self._sweep
        intensity = self.intensity
        if sweep is None or intensity is None:
            return
        self._sweep = None
        fitted_at = intensity.last_fit_ns
        intensity.on_sweep(sweep[0][0], sweep[1], sweep[3], sweep[4], sweep[5])
        if intensity.last_fit_ns != fitted_at:
            self._inputs_version += 1

    def on_timer(self, now_ns: int) -> None:
        """Close the sweep in progress and let the fit run on schedule without trades."""
        self._finish_sweep()
        intensity = self.intensity
        if intensity is not None and intensity.maybe_refit(now_ns):
            self._inputs_version += 1

    def on_own_fill(self, now_ns: int, fill: Fill) -> None:
        """A fill of ours (counted once): for the intensity fit's own-print share."""
        intensity = self.intensity
        if intensity is not None:
            intensity.on_own_fill(now_ns, BID if fill.side is _BUY else ASK, fill.amount_lots)

    def on_fee(self, fill: Fill) -> None:
        """A fill of ours with the venue's fee: a maker fill's rate is the one to earn back."""
        fee = fill.fee
        if fill.is_maker and fill.amount_lots > 0 and fill.price_ticks > 0 and not math.isnan(fee):
            notional = fill.price_ticks * self.spec.tick_size * fill.amount_lots
            rate = fee / (notional * self.spec.amount_step)
            if -0.01 < rate < 0.01 and rate != self.fee_rate:
                self.fee_rate = rate
                self._inputs_version += 1

    def _candle_signals(self) -> None:
        """Shift and widening from the volume candles (each weight 0 turns its part off)."""
        candles = self.candles
        cfg = self.cfg
        mid = self.last_mid
        if candles is None or math.isnan(mid):
            return
        shift = 0.0
        momentum = candles.momentum
        if cfg.candle_momentum_weight and momentum is not None:
            shift += cfg.candle_momentum_weight * momentum * mid
        reversal = candles.reversal
        std = candles.bar_std
        if cfg.candle_reversal_weight and reversal is not None and std is not None:
            shift += cfg.candle_reversal_weight * reversal * std * mid
        exhaustion = candles.exhaustion
        if cfg.candle_exhaustion_weight and exhaustion is not None and std is not None:
            shift -= cfg.candle_exhaustion_weight * exhaustion * std * mid
        widen = 0.0
        z = candles.momentum_z
        if cfg.candle_widen_per_z and z is not None:
            widen = cfg.candle_widen_per_z * abs(z)
        self._candle_shift = shift
        self.shift = self._vamp_shift + shift
        self.widen = widen
        self._inputs_version += 1

    # --- persistence (warm start) -------------------------------------------------------
    def estimator_state(self) -> dict[str, Any]:
        """The estimators' state as one JSON-able dict, for a warm restart."""
        return {
            "kind": "quoter_estimators",
            "version": 2,
            "volatility": self.volatility.to_state(),
            "intensity": None if self.intensity is None else self.intensity.to_state(),
            "fee_rate": self.fee_rate,
        }

    def restore_estimators(self, state: dict[str, Any]) -> None:
        """Resume from ``estimator_state()``'s output; ValueError (and nothing changed) when
        it does not fit this quoter's configuration."""
        if not isinstance(state, dict) or state.get("kind") != "quoter_estimators":
            raise ValueError("not a saved quoter estimator state")
        if state.get("version") != 2:
            raise ValueError(f"estimator state version {state.get('version')!r} is not 2")
        volatility = GridVolatility.from_state(state["volatility"])
        if volatility.interval_s != self.volatility.interval_s:
            raise ValueError("saved σ grid interval differs from quoter.sigma_interval_s")
        intensity = None
        saved = state.get("intensity")
        if self.intensity is not None and saved is not None:
            intensity = ReachIntensity.from_state(saved)
            if intensity.tick != self.intensity.tick:
                raise ValueError("saved intensity state is for another tick size")
        fee_rate = state.get("fee_rate")
        volatility.resume(0)
        self.volatility = volatility
        if intensity is not None:
            intensity.resume()
            self.intensity = intensity
        if isinstance(fee_rate, float) and -0.01 < fee_rate < 0.01:
            self.fee_rate = fee_rate
        self._inputs_version += 1

    def estimates(self) -> tuple[float | None, float, float]:
        """(σ or None while warming up, A, k) as the model would use them now (A and k:
        the mean of the two sides)."""
        intensity = self.intensity
        if intensity is not None:
            (a_b, k_b), (a_a, k_a) = intensity.params(BID), intensity.params(ASK)
            return self.volatility.sigma, 0.5 * (a_b + a_a), 0.5 * (k_b + k_a)
        return self.volatility.sigma, self.cfg.A, self.cfg.k

    # --- the model ----------------------------------------------------------------------
    def model_ladder(self, position_lots: int) -> tuple[Ladder, Ladder] | NoQuote:
        """The model's ladder for the current inputs (memoised on the inputs)."""
        if self._key_version == self._inputs_version and self._key_position == position_lots:
            return self._result
        sigma = self.volatility.sigma
        if sigma is None:
            if self.cfg.sigma_default > 0.0:
                sigma = self.cfg.sigma_default
            elif self.engine.params.model == "linear":
                sigma = 0.0  # the fixed quoter does not use σ
            else:
                return NoQuote("volatility estimator warming up")
        intensity = self.intensity
        if intensity is not None:
            A, k = intensity.params(BID)
            ask_A, ask_k = intensity.params(ASK)
        else:
            A = ask_A = self.cfg.A
            k = ask_k = self.cfg.k
        mid = self.last_mid
        position = position_lots * self.spec.amount_step
        fee = self.fee_rate * mid
        key = (mid, sigma, A, k, ask_A, ask_k, position, fee, self.shift, self.widen)
        self._key_version = self._inputs_version
        self._key_position = position_lots
        if key == self._key:
            return self._result
        inputs = MarketInputs(mid, sigma, A, k, position, fee, ask_A, ask_k, self.shift, self.widen)
        decision = self.engine.quote(inputs)
        self.inputs = inputs
        self._key = key
        if isinstance(decision, NoQuote):
            self._result = decision
            self.last_decision = None
        else:
            self._result = (decision.bids, decision.asks)
            bid_total, bid_largest = _sizes(decision.bids)
            ask_total, ask_largest = _sizes(decision.asks)
            self._sizes = (bid_total, bid_largest, ask_total, ask_largest)
            self.last_decision = decision
        return self._result

    def desired(
        self, position_lots: int, market: MarketState, permit: RiskPermit
    ) -> tuple[Ladder, Ladder] | NoQuote:
        """The model's ladder shaped by the risk permit, ready for the order manager."""
        result = self.model_ladder(position_lots)
        if isinstance(result, NoQuote):
            return result
        bids, asks = result
        factor = permit.size_factor
        bid_total, bid_largest, ask_total, ask_largest = self._sizes
        max_lots = self.limits[1]
        # the usual case, a ladder that fits: as shape_side would return it, without the loops
        if not (
            permit.allow_buy
            and factor >= 1.0
            and permit.buy_room > 0
            and bid_total <= permit.buy_room
            and bid_largest <= max_lots
        ):
            bids = shape_side(bids, permit.allow_buy, permit.buy_room, factor, self.limits)
        if not (
            permit.allow_sell
            and factor >= 1.0
            and permit.sell_room > 0
            and ask_total <= permit.sell_room
            and ask_largest <= max_lots
        ):
            asks = shape_side(asks, permit.allow_sell, permit.sell_room, factor, self.limits)
        tp_side = permit.take_profit_side
        if tp_side is not None and permit.take_profit_lots > 0:
            if tp_side is _SELL:
                price = max(market.bid_ticks + 1, market.ask_ticks - 1)
                lots = min(permit.take_profit_lots, permit.sell_room)
                asks = _with_front(asks, price, lots, sell=True)
                asks = shape_side(asks, True, permit.sell_room, 1.0, self.limits)
            else:
                price = min(market.ask_ticks - 1, market.bid_ticks + 1)
                lots = min(permit.take_profit_lots, permit.buy_room)
                bids = _with_front(bids, price, lots, sell=False)
                bids = shape_side(bids, True, permit.buy_room, 1.0, self.limits)
        if self._cap_at_touch:  # never better than the market's best (the reference quoter)
            if bids and market.bid_lots > 0 and bids[0][0] > market.bid_ticks:
                shift = bids[0][0] - market.bid_ticks
                bids = tuple(_new_level(Level, (p - shift, a)) for p, a in bids if p - shift > 0)
            if asks and market.ask_lots > 0 and asks[0][0] < market.ask_ticks:
                shift = market.ask_ticks - asks[0][0]
                asks = tuple(_new_level(Level, (p + shift, a)) for p, a in asks)
        # post-only: keep behind the opposite best, or the venue reprices and we chase it
        if bids and bids[0][0] >= market.ask_ticks:
            shift = bids[0][0] - market.ask_ticks + 1
            bids = tuple(_new_level(Level, (p - shift, a)) for p, a in bids if p - shift > 0)
        if asks and asks[0][0] <= market.bid_ticks:
            shift = market.bid_ticks - asks[0][0] + 1
            asks = tuple(_new_level(Level, (p + shift, a)) for p, a in asks)
        return bids, asks


def _sizes(levels: Ladder) -> tuple[int, int]:
    """(total, largest) lots of a side."""
    total = 0
    largest = 0
    for _, lots in levels:
        total += lots
        if lots > largest:  # noqa: PLR1730 - max() is slower on this hot path
            largest = lots
    return total, largest


def shape_side(levels: Ladder, allowed: bool, room: int, factor: float, limits: Limits) -> Ladder:
    """One side of the model's ladder as the risk permit allows it (the engine's shaping;
    the economics benchmark's theory uses it too). Empty when not allowed; sizes scaled by
    ``factor`` and capped at the maximum order size; the total trimmed to ``room`` lots."""
    if not allowed or room <= 0:
        return ()
    min_lots, max_lots = limits
    if factor >= 1.0:
        total = 0
        biggest = 0
        for level in levels:
            total += level[1]
            biggest = max(biggest, level[1])
        if total <= room and biggest <= max_lots:
            return levels
    total = 0
    out: list[Level] = []
    for price, wanted in levels:
        lots = min(max_lots, wanted if factor >= 1.0 else max(min_lots, int(wanted * factor)))
        if total + lots > room:
            lots = room - total
            if lots >= min_lots:
                out.append(_new_level(Level, (price, lots)))
            break
        total += lots
        out.append(_new_level(Level, (price, lots)))
    return tuple(out)


def _with_front(levels: Ladder, price: int, lots: int, *, sell: bool) -> Ladder:
    """``levels`` with a take-profit level in front (levels at or ahead of it dropped)."""
    if lots <= 0 or price <= 0:
        return levels
    behind = tuple(lv for lv in levels if (lv[0] > price if sell else lv[0] < price))
    return (_new_level(Level, (price, lots)), *behind)
