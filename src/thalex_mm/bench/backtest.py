"""Benchmark: backtest speed on the recorded 5.7-minute BTCUSDT window (489,708 depth and
trade rows), end to end with the production core quoting (the reference quoter), and where
the time goes.

- ``backtest_events_per_s``: input rows per second of wall time, load included (target
  ≥ 1 M; hftbacktest 2.4.4 runs this window at about 4 M events/s on this machine class);
- ``backtest_{load,book,core}_s``: reading the tables; the book, queues and fills; the core
  (events in, actions out, timers);
- ``backtest_fills``, ``backtest_pnl``: what the run did (a change here is a behaviour change).
The median of ``ROUNDS`` runs (one in --quick). Needs the shared recorded data; without it
every metric is NaN with the reason in ``backtest_skipped``.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from thalex_mm.app.backtest_run import BacktestOptions, run_backtest
from thalex_mm.backtest.data import DATA_DIR

WINDOW = "binance-usdm_BTCUSDT_2024-08-08_2354-2400"
CONFIG = Path(__file__).resolve().parents[3] / "config" / "reference-quoter.toml"
ROUNDS = 3


def run(quick: bool) -> dict[str, float | int | str]:
    if not (DATA_DIR / f"{WINDOW}_trades.csv.gz").is_file() or not CONFIG.is_file():
        nan = math.nan
        return {
            "backtest_events_per_s": nan,
            "backtest_skipped": f"no {WINDOW} in {DATA_DIR} (or no {CONFIG.name})",
        }
    opts = BacktestOptions(
        WINDOW, CONFIG, latency_ms=(10.0, 10.0), fees=(-0.00005, 0.0004),
        partial_fills=False, progress=False,
    )  # fmt: skip
    runs = [run_backtest(opts) for _ in range(1 if quick else ROUNDS)]
    best = sorted(runs, key=lambda s: s["wall_s"])[len(runs) // 2]
    phases = best["phases_s"]
    return {
        "backtest_events_per_s": round(statistics.median(s["events_per_s"] for s in runs)),
        "backtest_rows": best["rows"],
        "backtest_load_s": phases["load"],
        "backtest_book_s": phases["book"],
        "backtest_core_s": phases["core"],
        "backtest_fills": best["fills"],
        "backtest_pnl": best["pnl"],
    }
