"""The 10-minute growth check's trend: a drift planted in synthetic samples is found with
its size, flat samples give a slope within two standard errors of zero."""

from __future__ import annotations

import math

import numpy as np

from thalex_mm.bench.tick_to_order import growth


def test_a_planted_drift_is_measured_per_minute() -> None:
    rng = np.random.default_rng(7)
    # 10 minutes, 6,000 samples; the median rises 10 us a minute from 200 us
    minutes = np.linspace(0, 10, 6000, endpoint=False)
    samples = ((200 + 10 * minutes + rng.normal(0, 20, 6000)) * 1000).astype(np.int64)
    trend = growth(samples, seconds=600.0)
    assert len(trend["p50s"]) == 10
    assert trend["p50s"][0] < trend["p50s"][-1]
    assert abs(trend["slope"] - 10.0) < 1.0
    assert trend["se"] < 1.0


def test_flat_samples_show_no_trend_beyond_their_noise() -> None:
    rng = np.random.default_rng(8)
    samples = (rng.lognormal(np.log(220), 0.4, 6000) * 1000).astype(np.int64)
    trend = growth(samples, seconds=600.0)
    assert abs(trend["slope"]) < 2 * trend["se"] + 0.5


def test_too_few_samples_give_no_trend() -> None:
    trend = growth(np.arange(50, dtype=np.int64), seconds=60.0)
    assert trend["p50s"] == [] and math.isnan(trend["slope"])
