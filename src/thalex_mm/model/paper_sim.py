"""The Monte Carlo experiment of Avellaneda & Stoikov (2008), §3.3, vectorised over paths.

Each of the ``T/dt`` steps: both strategies quote around the current mid; an ask is lifted
with probability p(δᵃ) and a bid hit with probability p(δᵇ), where p is the paper's linear
rule λ(δ)·dt capped at 1 (``fills="linear"``) or the exact Poisson probability
1 − exp(−λ(δ)·dt) (``fills="poisson"``), λ(δ) = A·e^(−kδ); then the mid moves ±σ√dt with
probability 1/2 each. The "inventory" strategy quotes the A–S spread around the reservation
price; the "symmetric" one quotes the time-average of that spread around the mid. Both
strategies see the same mid path and the same uniform draws (common random numbers), so their
difference is measured with less noise. Profit = cash + q·s at T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from thalex_mm.model.formulas import optimal_spread

Fills = Literal["linear", "poisson"]
STRATEGIES = ("inventory", "symmetric")


@dataclass(frozen=True, slots=True)
class PaperSetup:
    """The paper's §3.3 parameters (defaults are the published ones)."""

    s0: float = 100.0
    T: float = 1.0
    sigma: float = 2.0
    dt: float = 0.005
    q0: int = 0
    A: float = 140.0
    k: float = 1.5

    @property
    def steps(self) -> int:
        return round(self.T / self.dt)


@dataclass(frozen=True, slots=True)
class PaperRow:
    gamma: float
    strategy: str  # "inventory" or "symmetric"
    spread: float  # time-average total spread
    profit_mean: float
    profit_std: float
    q_mean: float
    q_std: float
    paths: int
    # Standard errors of the four statistics above, estimated from this sample (the std's
    # uses the sample kurtosis, so it holds for non-normal profits too).
    profit_mean_se: float = 0.0
    profit_std_se: float = 0.0
    q_mean_se: float = 0.0
    q_std_se: float = 0.0

    def as_dict(self) -> dict[str, float | str]:
        return {
            "gamma": self.gamma,
            "strategy": self.strategy,
            "spread": self.spread,
            "profit_mean": self.profit_mean,
            "profit_std": self.profit_std,
            "q_mean": self.q_mean,
            "q_std": self.q_std,
        }


# The paper's γ = 0.1 table (1000 paths): (spread, profit mean, profit std, q mean, q std).
# It is the reference the tests hold us to. Other γ rows are printed without a reference: we
# have no verified transcription of them.
PUBLISHED: dict[float, dict[str, tuple[float, float, float, float, float]]] = {
    0.1: {"inventory": (1.49, 65.0, 6.6, 0.08, 2.9), "symmetric": (1.49, 68.4, 12.7, 0.26, 8.4)},
}
PUBLISHED_PATHS = 1000


def _mean_std_se(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, sample std and their standard errors (std's SE from the sample kurtosis)."""
    n = values.size
    mean = float(values.mean())
    std = float(values.std(ddof=1))
    mean_se = std / math.sqrt(n)
    if std == 0.0:
        return mean, std, mean_se, 0.0
    kurt = float(np.mean((values - mean) ** 4)) / (std**4)
    std_se = std * math.sqrt(max(kurt - 1.0, 0.0) / (4.0 * n))
    return mean, std, mean_se, std_se


def _fill_prob(delta: np.ndarray, A: float, k: float, dt: float, fills: Fills) -> np.ndarray:
    lam_dt = A * dt * np.exp(-k * delta)
    if fills == "linear":
        return np.minimum(lam_dt, 1.0)
    return -np.expm1(-lam_dt)


def simulate(
    gamma: float,
    paths: int,
    seed: int,
    fills: Fills = "linear",
    setup: PaperSetup | None = None,
) -> tuple[PaperRow, PaperRow]:
    """Run both strategies for one γ; returns (inventory row, symmetric row)."""
    if not (0.0 < gamma < math.inf):
        raise ValueError(f"gamma must be a positive finite number, got {gamma}")
    if paths < 2:
        raise ValueError(f"paths must be at least 2, got {paths}")
    if fills not in ("linear", "poisson"):
        raise ValueError(f"fills must be 'linear' or 'poisson', got {fills!r}")
    cfg = setup or PaperSetup()
    n = cfg.steps
    taus = [cfg.T - i * cfg.dt for i in range(n)]
    spreads = [optimal_spread(gamma, cfg.sigma, tau, cfg.k) for tau in taus]
    sym_half = 0.5 * math.fsum(spreads) / n
    step = cfg.sigma * math.sqrt(cfg.dt)
    var = cfg.sigma * cfg.sigma

    rng = np.random.default_rng(seed)
    s = np.full(paths, cfg.s0)
    q_inv = np.full(paths, float(cfg.q0))
    x_inv = np.zeros(paths)
    q_sym = q_inv.copy()
    x_sym = np.zeros(paths)
    sym_delta = np.full(paths, sym_half)
    p_sym = _fill_prob(sym_delta, cfg.A, cfg.k, cfg.dt, fills)
    for i in range(n):
        u = rng.random((3, paths))
        u_ask, u_bid, u_mid = u[0], u[1], u[2]
        # Inventory strategy: quotes r ± spread/2 with r = s − q·γσ²τ.
        skew = q_inv * (gamma * var * taus[i])
        half = 0.5 * spreads[i]
        ask_fill = u_ask < _fill_prob(half - skew, cfg.A, cfg.k, cfg.dt, fills)
        bid_fill = u_bid < _fill_prob(half + skew, cfg.A, cfg.k, cfg.dt, fills)
        x_inv += np.where(ask_fill, s - skew + half, 0.0) - np.where(bid_fill, s - skew - half, 0.0)
        q_inv += bid_fill.astype(np.float64) - ask_fill
        # Symmetric strategy: s ± average spread / 2, same draws.
        ask_fill = u_ask < p_sym
        bid_fill = u_bid < p_sym
        x_sym += np.where(ask_fill, s + sym_half, 0.0) - np.where(bid_fill, s - sym_half, 0.0)
        q_sym += bid_fill.astype(np.float64) - ask_fill
        s += np.where(u_mid < 0.5, step, -step)

    avg_spread = 2.0 * sym_half
    rows = []
    for name, x, q in (("inventory", x_inv, q_inv), ("symmetric", x_sym, q_sym)):
        pm, ps, pm_se, ps_se = _mean_std_se(x + q * s)
        qm, qs, qm_se, qs_se = _mean_std_se(q)
        rows.append(
            PaperRow(
                gamma=gamma,
                strategy=name,
                spread=avg_spread,
                profit_mean=pm,
                profit_std=ps,
                q_mean=qm,
                q_std=qs,
                paths=paths,
                profit_mean_se=pm_se,
                profit_std_se=ps_se,
                q_mean_se=qm_se,
                q_std_se=qs_se,
            )
        )
    return rows[0], rows[1]
