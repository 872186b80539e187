"""The synthetic market around the local exchange: index, marks, funding and order flow.

`SyntheticMarket(engine, MarketConfig(...))`, then `start(now_ns)` once and `step(now_ns)` as
time passes; both return the engine events to fan out. `ReplayMarket` drives the same engine
from a recorded window of the shared market data (see `replay.py`).
"""

from thalex_mm.exchange.market.config import MarketConfig
from thalex_mm.exchange.market.replay import (
    ReplayConfig,
    ReplayMarket,
    read_quotes,
    read_trades,
    window_paths,
)
from thalex_mm.exchange.market.synthetic import (
    INFORMED_SESSION,
    MAKER_SESSION,
    TAKER_SESSION,
    SyntheticMarket,
)

__all__ = [
    "INFORMED_SESSION",
    "MAKER_SESSION",
    "TAKER_SESSION",
    "MarketConfig",
    "ReplayConfig",
    "ReplayMarket",
    "SyntheticMarket",
    "read_quotes",
    "read_trades",
    "window_paths",
]
