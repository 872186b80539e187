"""The desired ladder for one instrument: estimators → model (A–S or GLFT + ladder) → risk.

Per cycle: the mid (or VAMP) feeds the volatility estimator, public trades feed the
order-arrival fit (A, k); the model turns (mid, σ, A, k, position) into a ladder; the risk
permit then shapes it: sides that may not quote are emptied, sizes are scaled in recovery,
each side is trimmed to the lots it may still add (position limit minus position), and
take-profit puts one post-only order at the touch on the reducing side; every level is capped
at the maximum order size. Finally each side is shifted behind the opposite best price,
because a post-only order would otherwise be repriced by the venue and the next cycle would
chase it.

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
from thalex_mm.core.market_state import MarketState
from thalex_mm.core.risk import RiskPermit
from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.model.estimators import EwmaVolatility, IntensityEstimator, VampEstimator
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
Limits = tuple[int, int]  # (min lots, max lots) of one order


class Quoter:
    __slots__ = (
        "_inputs_version",
        "_key",
        "_key_position",
        "_key_version",
        "_result",
        "_sizes",
        "cfg",
        "engine",
        "inputs",
        "intensity",
        "last_decision",
        "last_mid",
        "limits",
        "spec",
        "vamp",
        "volatility",
    )

    def __init__(
        self,
        spec: InstrumentSpec,
        params: QuoteParams,
        cfg: QuoterConfig,
        max_order_lots: int = 1 << 62,
    ) -> None:
        self.spec = spec
        self.limits: Limits = (spec.min_lots, max(spec.min_lots, max_order_lots))
        self.cfg = cfg
        self.engine = QuoteEngine(params, spec)
        self.volatility = EwmaVolatility(cfg.sigma_halflife_s, cfg.min_sigma_samples)
        self.intensity: IntensityEstimator | None = None
        if cfg.fit_intensity:
            self.intensity = IntensityEstimator(
                spec.tick_size * max(1, params.ladder.base_step_ticks),
                half_life_s=cfg.intensity_window_s,
                default_A=cfg.A,
                default_k=cfg.k,
            )
        self.vamp: VampEstimator | None = None
        if cfg.use_vamp:
            depth = max(cfg.vamp_depth_lots, spec.min_lots) * spec.amount_step
            self.vamp = VampEstimator(depth)
        self.last_mid = math.nan
        self.inputs: MarketInputs | None = None  # what the model last saw (for the journal)
        self.last_decision: QuoteDecision | None = None
        self._key: tuple[float, float, float, float, float] | None = None
        self._result: tuple[Ladder, Ladder] | NoQuote = NoQuote("not computed yet")
        # (total, largest) lots of the bid side, then of the ask side, of ``_result``
        self._sizes = (0, 0, 0, 0)
        # bumped whenever an estimator is fed: with it and the position unchanged since the
        # last call, the model's inputs are unchanged (no need to build and compare the key)
        self._inputs_version = 0
        self._key_version = -1
        self._key_position = 0

    # --- estimator feeds ----------------------------------------------------------------
    def on_market(
        self,
        now_ns: int,
        market: MarketState,
        own: tuple[dict[int, int], dict[int, int]] | None = None,
    ) -> None:
        """After a book/top/ticker change: update the mid (or VAMP) and the volatility.
        ``own``: our resting lots per price (bids, asks) when they may be part of the book
        the mid comes from; they are taken off first (``MarketState.mid_excluding``)."""
        plain = market.mid() if own is None else market.mid_excluding(own[0], own[1])
        if self.vamp is not None:
            if own is None:
                bids, asks = market.levels(8)
            else:
                bids, asks = market.levels_excluding(8, own[0], own[1])
            value = self.vamp.update(now_ns, bids, asks)
            mid = value if value is not None else plain
        else:
            mid = plain
        if not math.isnan(mid) and mid != self.last_mid:
            self.last_mid = mid
            self.volatility.update(now_ns, mid)
            self._inputs_version += 1

    def on_public_trade(self, now_ns: int, price: float) -> None:
        if self.intensity is not None and not math.isnan(self.last_mid):
            self.intensity.on_trade(now_ns, price, self.last_mid)
            self._inputs_version += 1

    # --- persistence (warm start) -------------------------------------------------------
    def estimator_state(self) -> dict[str, Any]:
        """The estimators' state as one JSON-able dict, for a warm restart."""
        return {
            "kind": "quoter_estimators",
            "version": 1,
            "volatility": self.volatility.to_state(),
            "intensity": None if self.intensity is None else self.intensity.to_state(),
        }

    def restore_estimators(self, state: dict[str, Any]) -> None:
        """Resume from ``estimator_state()``'s output; ValueError (and nothing changed) when
        it does not fit this quoter's configuration."""
        if not isinstance(state, dict) or state.get("kind") != "quoter_estimators":
            raise ValueError("not a saved quoter estimator state")
        if state.get("version") != 1:
            raise ValueError(f"estimator state version {state.get('version')!r} is not 1")
        volatility = EwmaVolatility.from_state(state["volatility"])
        intensity = None
        saved = state.get("intensity")
        if self.intensity is not None and saved is not None:
            intensity = IntensityEstimator.from_state(saved)
        self.volatility = volatility
        if intensity is not None:
            self.intensity = intensity
        self._inputs_version += 1

    def estimates(self) -> tuple[float | None, float, float]:
        """(σ or None while warming up, A, k) as the model would use them now."""
        intensity = self.intensity
        if intensity is not None:
            return self.volatility.sigma, intensity.A, intensity.k
        return self.volatility.sigma, self.cfg.A, self.cfg.k

    # --- the model ----------------------------------------------------------------------
    def model_ladder(self, position_lots: int) -> tuple[Ladder, Ladder] | NoQuote:
        """The model's ladder for the current inputs (memoised on the inputs)."""
        if self._key_version == self._inputs_version and self._key_position == position_lots:
            return self._result
        sigma = self.volatility.sigma
        if sigma is None:
            if self.cfg.sigma_default <= 0.0:
                return NoQuote("volatility estimator warming up")
            sigma = self.cfg.sigma_default
        intensity = self.intensity
        if intensity is not None:
            A, k = intensity.A, intensity.k
        else:
            A, k = self.cfg.A, self.cfg.k
        position = position_lots * self.spec.amount_step
        key = (self.last_mid, sigma, A, k, position)
        self._key_version = self._inputs_version
        self._key_position = position_lots
        if key == self._key:
            return self._result
        inputs = MarketInputs(self.last_mid, sigma, A, k, position)
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
        # the usual case, a ladder that fits: as _shape would return it, without the loops
        if not (
            permit.allow_buy
            and factor >= 1.0
            and permit.buy_room > 0
            and bid_total <= permit.buy_room
            and bid_largest <= max_lots
        ):
            bids = _shape(bids, permit.allow_buy, permit.buy_room, factor, self.limits)
        if not (
            permit.allow_sell
            and factor >= 1.0
            and permit.sell_room > 0
            and ask_total <= permit.sell_room
            and ask_largest <= max_lots
        ):
            asks = _shape(asks, permit.allow_sell, permit.sell_room, factor, self.limits)
        tp_side = permit.take_profit_side
        if tp_side is not None and permit.take_profit_lots > 0:
            if tp_side is _SELL:
                price = max(market.bid_ticks + 1, market.ask_ticks - 1)
                lots = min(permit.take_profit_lots, permit.sell_room)
                asks = _with_front(asks, price, lots, sell=True)
                asks = _shape(asks, True, permit.sell_room, 1.0, self.limits)
            else:
                price = min(market.ask_ticks - 1, market.bid_ticks + 1)
                lots = min(permit.take_profit_lots, permit.buy_room)
                bids = _with_front(bids, price, lots, sell=False)
                bids = _shape(bids, True, permit.buy_room, 1.0, self.limits)
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


def _shape(levels: Ladder, allowed: bool, room: int, factor: float, limits: Limits) -> Ladder:
    """Empty when not allowed; sizes scaled by ``factor`` and capped at the maximum order
    size; the total trimmed to ``room`` lots."""
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
