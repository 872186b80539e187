"""Settings of the synthetic market, validated on construction (ValueError names the field)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_INFORMED_HORIZON_S = 60.0  # the path is drawn this far ahead at most (memory, start-up)


def _default_prices() -> dict[str, float]:
    return {"BTCUSD": 80_000.0, "ETHUSD": 3_000.0}


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """How the simulated world behaves. Distances are in basis points of the fair price.

    Index: log-price diffusion with annualised ``volatility`` (× ``stressed_vol_multiplier`` in
    the stressed regime), regime switches at ``regime_switch_per_hour`` each way, and normal
    log-jumps (std ``jump_std``) at ``jumps_per_day``.
    Marks: perpetual = index × (1 + premium), premium an Ornstein–Uhlenbeck process around
    ``perp_premium_mean``; funding rate per interval = premium, clipped to ±``funding_cap``;
    future = index × (1 + ``future_basis_per_year`` × years to expiry).
    Background maker: ``maker_levels`` per side from ``maker_half_spread_bps`` out, spaced by
    ``maker_level_step_bps``, ``maker_level_notional_usd`` each, re-sent every step by mass
    quote (identical levels keep their place).
    Uninformed takers: per instrument and side, Poisson arrivals at ``taker_rate_per_s`` (A);
    each sweeps the book to a depth δ ~ Exponential(``taker_decay_per_bp`` = k), so an order
    resting δ bps from fair is hit at rate A·e^(−kδ) (the Avellaneda–Stoikov flow).
    Extra load-test perpetuals (``SYN…``) use ``extra_requote_bps`` and
    ``extra_taker_rate_per_s`` instead, so a hundred of them stay cheap to simulate.
    Informed takers: Poisson at ``informed_rate_per_s`` per instrument; each knows the fair
    price ``informed_horizon_s`` ahead (0: at the end of the current step) and, if it is more
    than ``informed_min_move_bps`` from the current one, buys/sells up to it
    (``informed_notional_usd`` per order), so stale quotes are picked off. The path is drawn
    that far ahead in advance (see `SyntheticMarket`); the horizon does not change it.
    """

    seed: int = 7
    initial_prices: Mapping[str, float] = field(default_factory=_default_prices)
    volatility: float = 0.5
    stressed_vol_multiplier: float = 3.0
    regime_switch_per_hour: float = 0.5
    jumps_per_day: float = 2.0
    jump_std: float = 0.004
    perp_premium_mean: float = 0.0001
    perp_premium_vol: float = 0.0005  # per sqrt(hour)
    perp_premium_reversion_per_hour: float = 2.0
    funding_interval_s: float = 3_600.0
    funding_cap: float = 0.001
    future_basis_per_year: float = 0.05
    maker_levels: int = 5
    maker_half_spread_bps: float = 2.0
    maker_level_step_bps: float = 1.5
    maker_level_notional_usd: float = 40_000.0
    maker_requote_bps: float = 0.5
    taker_rate_per_s: float = 2.0
    taker_decay_per_bp: float = 0.4
    informed_rate_per_s: float = 0.0
    informed_min_move_bps: float = 0.5
    informed_notional_usd: float = 20_000.0
    informed_horizon_s: float = 0.0  # how far ahead informed takers see (≤ 60 s)
    max_step_s: float = 60.0  # longer gaps are simulated as several sub-steps
    # the extra load-test perpetuals (SYN001-PERPETUAL …): cheaper background flow
    extra_requote_bps: float = 2.0  # the maker re-quotes them after a larger fair move
    extra_taker_rate_per_s: float = 0.5  # per instrument and side

    def __post_init__(self) -> None:
        non_negative = (
            "volatility",
            "regime_switch_per_hour",
            "jumps_per_day",
            "jump_std",
            "perp_premium_vol",
            "perp_premium_reversion_per_hour",
            "funding_cap",
            "maker_half_spread_bps",
            "maker_level_step_bps",
            "maker_requote_bps",
            "taker_rate_per_s",
            "informed_rate_per_s",
            "informed_min_move_bps",
            "extra_requote_bps",
            "extra_taker_rate_per_s",
        )
        for name in non_negative:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"MarketConfig.{name} must be a finite number ≥ 0, got {value!r}")
        positive = (
            "stressed_vol_multiplier",
            "funding_interval_s",
            "maker_level_notional_usd",
            "taker_decay_per_bp",
            "informed_notional_usd",
            "max_step_s",
        )
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"MarketConfig.{name} must be a finite number > 0, got {value!r}")
        horizon = self.informed_horizon_s
        if not (isinstance(horizon, int | float) and math.isfinite(horizon)) or not (
            0 <= horizon <= MAX_INFORMED_HORIZON_S
        ):
            raise ValueError(
                f"MarketConfig.informed_horizon_s must be 0..{MAX_INFORMED_HORIZON_S:g} s, "
                f"got {horizon!r}"
            )
        if not math.isfinite(self.perp_premium_mean) or abs(self.perp_premium_mean) > 0.05:
            raise ValueError("MarketConfig.perp_premium_mean must be within ±0.05")
        if not math.isfinite(self.future_basis_per_year) or abs(self.future_basis_per_year) > 1:
            raise ValueError("MarketConfig.future_basis_per_year must be within ±1")
        if not isinstance(self.maker_levels, int) or not 0 <= self.maker_levels <= 10:
            raise ValueError("MarketConfig.maker_levels must be an integer in 0..10")
        if not isinstance(self.seed, int):
            raise ValueError("MarketConfig.seed must be an integer")
        for underlying, price in self.initial_prices.items():
            if not (isinstance(price, int | float) and math.isfinite(price) and price > 0):
                raise ValueError(
                    f"MarketConfig.initial_prices[{underlying!r}] must be > 0, got {price!r}"
                )
