"""Online estimators, O(1) per event, with state export/import as plain JSON-able dicts.

Time is always passed in (``ts_ns``); nothing here reads a clock. Each estimator has
``to_state() -> dict`` and ``from_state(dict)`` so a restart resumes without a warm-up.
"""

from thalex_mm.model.estimators.candles import VolumeCandle, VolumeCandles
from thalex_mm.model.estimators.reach import ReachIntensity
from thalex_mm.model.estimators.vamp import VampEstimator, side_vwap, vamp
from thalex_mm.model.estimators.volatility import (
    EwmaVolatility,
    GridVolatility,
    WindowVolatility,
)

__all__ = [
    "EwmaVolatility",
    "GridVolatility",
    "ReachIntensity",
    "VampEstimator",
    "VolumeCandle",
    "VolumeCandles",
    "WindowVolatility",
    "side_vwap",
    "vamp",
]
