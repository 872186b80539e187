"""The expected PnL of a quoting policy in the A·e^(−kδ) market, from its inventory chain.

In the market the models assume, takers of each side arrive at rate A and reach a depth
R ~ Exponential(k) from the fair price, taking every resting level within R. A policy that
quotes, at inventory q, levels (distance from fair, lots) on each side turns this into a
continuous-time Markov chain on q: from q, a sell taker takes the bid levels 0..j with rate
A·(e^(−k·d_j) − e^(−k·d_{j+1})) (d past the last level = ∞) and moves q up by their lots.
The stationary distribution π of that chain weights the expected spread income at each q,

    income(q) = Σ_levels A·e^(−k·d)·(d − fee)·amount,

and with the fair price a martingale the inventory term adds nothing in expectation, so
Σ_q π(q)·income(q) is the policy's expected PnL per second. This is the yardstick the
economics benchmark holds the simulated demo against (numpy only; O(states²) to solve).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

SideLevels = Sequence[tuple[float, int]]  # (distance from fair, lots), nearest first
Policy = Callable[[int], tuple[SideLevels, SideLevels]]


@dataclass(frozen=True, slots=True)
class ChainResult:
    pnl_per_s: float  # expected spread income net of fees, per second (price units × amount)
    fills_per_s: float  # expected level fills per second
    volume_per_s: float  # expected contracts traded per second
    positions: tuple[int, ...]  # the chain's states, in lots
    stationary: tuple[float, ...]  # π over ``positions``


def _sweeps(levels: SideLevels, A: float, k: float) -> list[tuple[float, int, int]]:
    """(rate, lots moved, levels taken) for each depth a sweep of this side can stop at."""
    out = []
    cum = 0
    ordered = sorted(levels)
    for j, (d, lots) in enumerate(ordered):
        cum += lots
        reach_j = math.exp(-k * max(d, 0.0))
        nxt = math.exp(-k * max(ordered[j + 1][0], 0.0)) if j + 1 < len(ordered) else 0.0
        out.append((A * (reach_j - nxt), cum, j + 1))
    return out


def stationary_pnl(
    policy: Policy,
    *,
    A_bid: float,
    k_bid: float,
    A_ask: float,
    k_ask: float,
    fee: float,
    amount_step: float,
    q_min: int,
    q_max: int,
) -> ChainResult:
    """Expected PnL per second of ``policy`` (levels by inventory, in lots of
    ``amount_step``) with inventory confined to [q_min, q_max]; ``fee`` per contract."""
    if q_min > 0 or q_max < 0 or q_max - q_min > 4000:
        raise ValueError(
            f"need q_min <= 0 <= q_max and a chain of at most 4000 states, got {q_min}, {q_max}"
        )
    states = list(range(q_min, q_max + 1))
    index = {q: i for i, q in enumerate(states)}
    n = len(states)
    gen = np.zeros((n, n))
    income = np.zeros(n)
    fills = np.zeros(n)
    volume = np.zeros(n)
    for q in states:
        i = index[q]
        bids, asks = policy(q)
        for levels, A, k, sign in ((bids, A_bid, k_bid, 1), (asks, A_ask, k_ask, -1)):
            for d, lots in levels:
                rate = A * math.exp(-k * max(d, 0.0))
                income[i] += rate * (d - fee) * lots * amount_step
                fills[i] += rate
                volume[i] += rate * lots * amount_step
            for rate, moved, _taken in _sweeps(levels, A, k):
                target = q + sign * moved
                if rate <= 0.0 or target == q:
                    continue
                if target not in index:
                    raise ValueError(f"the policy at q={q} can move the position to {target}")
                gen[i, index[target]] += rate
                gen[i, i] -= rate
    # π·G = 0 with Σπ = 1: replace one balance equation by the normalisation
    system = gen.T.copy()
    system[-1, :] = 1.0
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    pi, *_ = np.linalg.lstsq(system, rhs, rcond=None)
    pi = np.clip(pi, 0.0, None)
    pi /= pi.sum()
    return ChainResult(
        float(pi @ income),
        float(pi @ fills),
        float(pi @ volume),
        tuple(states),
        tuple(float(p) for p in pi),
    )
