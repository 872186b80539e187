"""Index prices: a two-regime jump diffusion, and the marks derived from it.

`IndexProcess.propose(dt)` draws the next move, `commit()` applies it; the synthetic market
runs them ahead of the present (its path buffer), so informed flow can trade on moves to come.
All randomness comes from the generator passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from thalex_mm.exchange.market.config import MarketConfig

SECONDS_PER_YEAR = 365.25 * 24 * 3600.0


@dataclass(slots=True)
class IndexProcess:
    """One underlying's index (log-price) with calm/stressed volatility regimes.

    Regime switches and jumps are Poisson events, drawn per step. With ``countdown`` (the
    extra load-test underlyings) the time to the next one is drawn (exponential) and counted
    down instead: the same process, but a quiet step costs one normal draw.
    """

    price: float
    config: MarketConfig
    rng: np.random.Generator
    stressed: bool = False
    pending: float | None = None
    countdown: bool = False
    _to_switch_s: float = -1.0  # seconds to the next regime switch (< 0: not drawn yet)
    _to_jump_s: float = -1.0

    def _wait(self, rate_per_s: float) -> float:
        return math.inf if rate_per_s <= 0 else float(self.rng.exponential(1.0 / rate_per_s))

    def propose(self, dt_s: float) -> float:
        """Draw the index price after ``dt_s`` seconds (not yet applied)."""
        if self.countdown:
            return self._propose_countdown(dt_s)
        cfg = self.config
        rate = cfg.regime_switch_per_hour * dt_s / 3600.0
        if rate > 0 and self.rng.random() < 1.0 - math.exp(-rate):
            self.stressed = not self.stressed
        sigma = cfg.volatility * (cfg.stressed_vol_multiplier if self.stressed else 1.0)
        dt_y = dt_s / SECONDS_PER_YEAR
        log_ret = -0.5 * sigma * sigma * dt_y + sigma * math.sqrt(dt_y) * self.rng.standard_normal()
        n_jumps = self.rng.poisson(cfg.jumps_per_day * dt_s / 86_400.0) if cfg.jumps_per_day else 0
        if n_jumps:
            log_ret += float(self.rng.normal(0.0, cfg.jump_std * math.sqrt(n_jumps)))
        self.pending = self.price * math.exp(log_ret)
        return self.pending

    def _propose_countdown(self, dt_s: float) -> float:
        cfg = self.config
        if self._to_switch_s < 0:
            self._to_switch_s = self._wait(cfg.regime_switch_per_hour / 3600.0)
            self._to_jump_s = self._wait(cfg.jumps_per_day / 86_400.0)
        self._to_switch_s -= dt_s
        while self._to_switch_s < 0:  # each switch toggles the regime
            self.stressed = not self.stressed
            self._to_switch_s += self._wait(cfg.regime_switch_per_hour / 3600.0)
        sigma = cfg.volatility * (cfg.stressed_vol_multiplier if self.stressed else 1.0)
        dt_y = dt_s / SECONDS_PER_YEAR
        log_ret = -0.5 * sigma * sigma * dt_y + sigma * math.sqrt(dt_y) * self.rng.standard_normal()
        self._to_jump_s -= dt_s
        n_jumps = 0
        while self._to_jump_s < 0:
            n_jumps += 1
            self._to_jump_s += self._wait(cfg.jumps_per_day / 86_400.0)
        if n_jumps:
            log_ret += float(self.rng.normal(0.0, cfg.jump_std * math.sqrt(n_jumps)))
        self.pending = self.price * math.exp(log_ret)
        return self.pending

    def commit(self) -> float:
        if self.pending is not None:
            self.price = self.pending
            self.pending = None
        return self.price


@dataclass(slots=True)
class PremiumProcess:
    """Perpetual premium over the index (fraction), mean-reverting (Ornstein–Uhlenbeck)."""

    value: float
    config: MarketConfig
    rng: np.random.Generator
    _dt_s: float = -1.0  # the step the cached decay/std are for (steps are usually regular)
    _decay: float = 1.0
    _std: float = 0.0

    def step(self, dt_s: float) -> float:
        cfg = self.config
        if dt_s != self._dt_s:
            dt_h = dt_s / 3600.0
            theta = cfg.perp_premium_reversion_per_hour
            self._decay = math.exp(-theta * dt_h)
            if theta > 0:
                self._std = cfg.perp_premium_vol * math.sqrt(
                    (1.0 - self._decay * self._decay) / (2.0 * theta)
                )
            else:
                self._std = cfg.perp_premium_vol * math.sqrt(dt_h)
            self._dt_s = dt_s
        decay, std = self._decay, self._std
        mean = cfg.perp_premium_mean
        self.value = mean + (self.value - mean) * decay + std * self.rng.standard_normal()
        return self.value


def future_mark(index: float, basis_per_year: float, expiry_s: float, now_s: float) -> float:
    """Dated future: index × (1 + basis × years to expiry); the index itself at expiry."""
    years = max(expiry_s - now_s, 0.0) / SECONDS_PER_YEAR
    return index * (1.0 + basis_per_year * years)


def funding_rate(premium: float, cap: float) -> float:
    """Funding per interval: the premium, clipped to ±cap (longs pay when positive)."""
    return max(-cap, min(cap, premium))
