"""Per-instrument and engine configuration, in the user's units (contracts, USD, ms).

The engine converts these once into ticks, lots and nanoseconds. Every class validates itself
on construction and raises ValueError naming the offending field, so a bad config file fails
with one clear line instead of misbehaving at 3 a.m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from thalex_mm.domain import InstrumentSpec
from thalex_mm.model.quote import QuoteParams

_INF = math.inf


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not (0.0 < value < _INF):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _non_negative(name: str, value: float) -> None:
    if isinstance(value, bool) or not (0.0 <= value < _INF):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")


def _optional_positive(name: str, value: float | None) -> None:
    if value is not None:
        _positive(name, value)


def _int_at_least(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _fraction(name: str, value: float) -> None:
    if isinstance(value, bool) or not (0.0 < value <= 1.0):
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")


@dataclass(frozen=True, slots=True)
class QuoterConfig:
    """Where the model's inputs come from and when not to quote at all.

    Units: times in the suffix's unit, prices in the instrument's price units (USD), A per
    second, k per price unit, σ in price units per √second.
    """

    max_data_age_ms: float = 2000.0  # no quotes on book/ticker data older than this
    requote_interval_ms: float = 0.0  # > 0: orders change once per step of this grid at most
    fair_source: str = "mark"  # "mark" (the ticker's mark, else the mid) or "mid" (others')
    input_band: float = 0.05  # estimator inputs further than this fraction from the mark: refused
    sigma_interval_s: float = 1.0  # σ from the fair price sampled on this grid
    sigma_halflife_s: float = 120.0  # EWMA of the grid returns
    sigma_fast_halflife_s: float = 15.0  # the fast EWMA that detects a stressed regime
    stressed_ratio: float = 1.5  # fast σ above this multiple of the slow σ: stressed
    sigma_default: float = 0.0  # price/sqrt(s) used until the estimator is warm (0 = wait)
    min_sigma_samples: int = 20  # grid returns before σ counts as warm
    A: float = 1.0  # fill intensity prior, used until the fit is warm, 1/s
    k: float = 1.0  # its decay with distance, 1/price unit
    fit_intensity: bool = True  # fit A and k per side from taker sweeps
    intensity_window_s: float = 300.0  # half-life of the sweeps and exposure the fit uses
    intensity_refit_s: float = 5.0  # refit at most this often
    intensity_min_sweeps: float = 30.0  # sweeps per side before the fit replaces the prior
    intensity_depth_ticks: int = 1000  # reach is measured up to this many ticks from fair
    own_share_limit: float = 0.5  # our fills above this share of a side's volume: no tighter
    use_vamp: bool = False  # quote around the volume-adjusted mid (= vamp_weight 1)
    vamp_weight: float = 0.0  # shift the centre by this fraction of (VAMP − mid)
    vamp_depth_lots: int = 0  # lots of depth the VAMP averages over (0: top level only)
    candle_volume: float = 0.0  # volume candles of this many contracts (0: off)
    candle_history: int = 20  # closed candles the signals look back over
    candle_momentum_weight: float = 0.0  # shift by this × the window's log change × mid
    candle_reversal_weight: float = 0.0  # shift by this × reversal z × bar std × mid
    candle_exhaustion_weight: float = 0.0  # shift against a stalled trend: −this × exhaustion
    # × bar std × mid
    candle_widen_per_z: float = 0.0  # widen both sides by this × |momentum z| (price units)

    def __post_init__(self) -> None:
        _positive("quoter.max_data_age_ms", self.max_data_age_ms)
        _non_negative("quoter.requote_interval_ms", self.requote_interval_ms)
        if self.fair_source not in ("mark", "mid"):
            raise ValueError(f"quoter.fair_source must be mark or mid, got {self.fair_source!r}")
        _fraction("quoter.input_band", self.input_band)
        _positive("quoter.sigma_interval_s", self.sigma_interval_s)
        _positive("quoter.sigma_halflife_s", self.sigma_halflife_s)
        _positive("quoter.sigma_fast_halflife_s", self.sigma_fast_halflife_s)
        if isinstance(self.stressed_ratio, bool) or not (1.0 <= self.stressed_ratio < _INF):
            raise ValueError(f"quoter.stressed_ratio must be >= 1, got {self.stressed_ratio!r}")
        _non_negative("quoter.sigma_default", self.sigma_default)
        _int_at_least("quoter.min_sigma_samples", self.min_sigma_samples, 2)
        _positive("quoter.A", self.A)
        _positive("quoter.k", self.k)
        _positive("quoter.intensity_window_s", self.intensity_window_s)
        _positive("quoter.intensity_refit_s", self.intensity_refit_s)
        _positive("quoter.intensity_min_sweeps", self.intensity_min_sweeps)
        _int_at_least("quoter.intensity_depth_ticks", self.intensity_depth_ticks, 2)
        _fraction("quoter.own_share_limit", self.own_share_limit)
        _non_negative("quoter.vamp_weight", self.vamp_weight)
        _int_at_least("quoter.vamp_depth_lots", self.vamp_depth_lots, 0)
        _non_negative("quoter.candle_volume", self.candle_volume)
        _int_at_least("quoter.candle_history", self.candle_history, 2)
        for name in (
            "candle_momentum_weight",
            "candle_reversal_weight",
            "candle_exhaustion_weight",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not (-_INF < value < _INF):
                raise ValueError(f"quoter.{name} must be a finite number, got {value!r}")
        _non_negative("quoter.candle_widen_per_z", self.candle_widen_per_z)


@dataclass(frozen=True, slots=True)
class OrderManagerConfig:
    """How the desired ladder becomes orders on the venue."""

    mass_quote: bool = False  # one private/mass_quote per cycle instead of per-order actions
    amend_threshold_ticks: int = 1  # price moves smaller than this leave the order alone
    min_update_interval_ms: float = 0.0  # per level (order), between two actions on it
    refresh_interval_ms: float = 0.0  # after this, any difference is applied (0: never)
    max_orders_per_side: int = 10
    max_orders_total: int = 20
    label: str = "mm"
    reply_timeout_ms: float = 5000.0  # an unanswered action older than this is reported
    mm_trade_amount: float = 0.0  # mass-quote protection (contracts); required in MQ mode
    mm_quote_amount: float = 0.0
    mm_refill_delay_ms: float = 1000.0  # after the protection group trips, wait this long

    def __post_init__(self) -> None:
        _int_at_least("orders.amend_threshold_ticks", self.amend_threshold_ticks, 1)
        _non_negative("orders.min_update_interval_ms", self.min_update_interval_ms)
        _non_negative("orders.refresh_interval_ms", self.refresh_interval_ms)
        _int_at_least("orders.max_orders_per_side", self.max_orders_per_side, 1)
        _int_at_least("orders.max_orders_total", self.max_orders_total, 1)
        _positive("orders.reply_timeout_ms", self.reply_timeout_ms)
        _non_negative("orders.mm_refill_delay_ms", self.mm_refill_delay_ms)
        if self.mass_quote:
            if self.max_orders_per_side > 10:
                raise ValueError("orders.max_orders_per_side must be <= 10 in mass-quote mode")
            _positive("orders.mm_trade_amount", self.mm_trade_amount)
            _positive("orders.mm_quote_amount", self.mm_quote_amount)
            if self.mm_trade_amount > self.mm_quote_amount:
                raise ValueError("orders.mm_trade_amount must be <= orders.mm_quote_amount")


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Limits; amounts in contracts, money in the quote currency (USD)."""

    max_position: float = 1.0  # |position| + pending same-side orders never exceed this
    max_notional: float | None = None  # the same limit in |position| x mark
    reduce_at: float = 1.0  # fraction of the limit at which only the reducing side quotes
    max_loss: float | None = None  # total PnL (since start or last re-entry) below -this: kill
    max_drawdown: float | None = None  # fall from the PnL peak larger than this: kill
    cooldown_s: float = 60.0  # HALTED this long before re-entering
    recovery_steps: tuple[float, ...] = (0.25, 0.5, 1.0)  # size factors after a kill
    recovery_step_s: float = 30.0  # time at each step without a new breach
    max_kills: int = 3  # after this many kills the halt is permanent
    take_profit: float | None = None  # unrealised PnL above this: reduce with post-only
    take_profit_fraction: float = 0.5  # of the position to take off
    max_order_amount: float | None = None  # per order; default max_position
    price_band: float = 0.05  # refuse prices further than this fraction from the mark

    def __post_init__(self) -> None:
        _positive("risk.max_position", self.max_position)
        _optional_positive("risk.max_notional", self.max_notional)
        _fraction("risk.reduce_at", self.reduce_at)
        _optional_positive("risk.max_loss", self.max_loss)
        _optional_positive("risk.max_drawdown", self.max_drawdown)
        _non_negative("risk.cooldown_s", self.cooldown_s)
        if not self.recovery_steps:
            raise ValueError("risk.recovery_steps must hold at least one size factor")
        for step in self.recovery_steps:
            _fraction("risk.recovery_steps", step)
        _non_negative("risk.recovery_step_s", self.recovery_step_s)
        _int_at_least("risk.max_kills", self.max_kills, 1)
        _optional_positive("risk.take_profit", self.take_profit)
        _fraction("risk.take_profit_fraction", self.take_profit_fraction)
        _optional_positive("risk.max_order_amount", self.max_order_amount)
        _non_negative("risk.price_band", self.price_band)


@dataclass(frozen=True, slots=True)
class AccountingConfig:
    """Fee estimates for fills whose fee the order feed does not carry, and reconciliation."""

    maker_fee_rate: float = 0.0  # fraction of notional; negative is a rebate
    taker_fee_rate: float = 0.0
    reconcile_tolerance: float = 0.0  # contracts of disagreement tolerated
    reconcile_grace_ms: float = 2000.0  # disagreement must last this long to be reported
    # after a discrepancy outlasts the grace period: take the venue's position (True), or
    # stop quoting the instrument until the two agree again (False)
    adopt_venue_position: bool = True
    # a fill far from the mark (risk.price_band) or of an order we never placed: "halt" =
    # no new risk on any instrument for the rest of the run; "warn" = report it and trade on
    anomalous_fill: Literal["halt", "warn"] = "halt"

    def __post_init__(self) -> None:
        if self.anomalous_fill not in ("halt", "warn"):
            raise ValueError(
                f"accounting.anomalous_fill must be 'halt' or 'warn', got {self.anomalous_fill!r}"
            )
        for name in ("maker_fee_rate", "taker_fee_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (-1.0 < value < 1.0):
                raise ValueError(f"accounting.{name} must be in (-1, 1), got {value!r}")
        _non_negative("accounting.reconcile_tolerance", self.reconcile_tolerance)
        _non_negative("accounting.reconcile_grace_ms", self.reconcile_grace_ms)


@dataclass(frozen=True, slots=True)
class InstrumentConfig:
    spec: InstrumentSpec
    quote: QuoteParams = field(default_factory=QuoteParams)
    quoter: QuoterConfig = field(default_factory=QuoterConfig)
    orders: OrderManagerConfig = field(default_factory=OrderManagerConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    accounting: AccountingConfig = field(default_factory=AccountingConfig)
    quoting: bool = True  # False: tracked (position, hedging) but not quoted

    def __post_init__(self) -> None:
        if not isinstance(self.spec, InstrumentSpec):
            raise ValueError(f"spec must be an InstrumentSpec, got {type(self.spec).__name__}")
        if self.orders.mass_quote and not self.spec.product:
            raise ValueError(f"{self.spec.name}: mass-quote mode needs spec.product (e.g. FBTCUSD)")
        max_lots = self.spec.amount_to_lots_floor(self.risk.max_position)
        if max_lots < self.spec.min_lots:
            raise ValueError(
                f"{self.spec.name}: risk.max_position {self.risk.max_position} is below the "
                f"instrument's minimum order amount {self.spec.min_amount}"
            )


@dataclass(frozen=True, slots=True)
class HedgeConfig:
    """Keep the net delta of ``quoted`` + ``hedge`` (both delta-one) within ``threshold``."""

    quoted: str
    hedge: str
    threshold: float  # contracts of net delta tolerated before hedging
    cross_ticks: int = 0  # IOC limit this many ticks through the touch
    min_interval_ms: float = 1000.0
    label: str = "hedge"

    def __post_init__(self) -> None:
        if self.quoted == self.hedge:
            raise ValueError("hedge.hedge must differ from hedge.quoted")
        _positive("hedge.threshold", self.threshold)
        _int_at_least("hedge.cross_ticks", self.cross_ticks, 0)
        _non_negative("hedge.min_interval_ms", self.min_interval_ms)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    instruments: tuple[InstrumentConfig, ...]
    first_client_order_id: int = 1  # start above the last id a previous run used
    max_total_loss: float | None = None  # portfolio-wide: total PnL below -this halts all
    hedges: tuple[HedgeConfig, ...] = ()
    # newest fill keys remembered for deduplication, besides those of open orders (trade_ids.py)
    trade_id_memory: int = 4096
    # quote (and hedge) nothing before the first Resynced: until then the venue's position
    # and open orders are unknown (a live runner should set it; simulations need not)
    wait_for_resync: bool = False

    def __post_init__(self) -> None:
        if not self.instruments:
            raise ValueError("instruments must list at least one instrument")
        names = [cfg.spec.name for cfg in self.instruments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"instruments lists {', '.join(dupes)} more than once")
        _int_at_least("first_client_order_id", self.first_client_order_id, 1)
        _optional_positive("max_total_loss", self.max_total_loss)
        _int_at_least("trade_id_memory", self.trade_id_memory, 1000)
        for hedge in self.hedges:
            for name in (hedge.quoted, hedge.hedge):
                if name not in names:
                    raise ValueError(f"hedge instrument {name!r} is not in instruments")
