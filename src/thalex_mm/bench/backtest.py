"""Benchmark: backtest speed on the recorded 5.7-minute BTCUSDT window (489,708 depth and
trade rows), end to end with the production core quoting (the reference quoter), and where
the time goes.

- ``backtest_events_per_s``: input rows per second of wall time, load included (target
  ≥ 1 M; hftbacktest 2.4.4 runs this window at about 4 M events/s on this machine class);
- ``backtest_{load,book,core}_s``: reading the tables; the book, queues and fills; the core
  (events in, actions out, timers);
- ``backtest_fills``, ``backtest_pnl``: what the run did (a change here is a behaviour change);
- ``backtest_hftbacktest_events_per_s``: hftbacktest 2.4.4 on the same rows in the same run
  (its own venv, ``make hftbacktest-venv``; warmed, so numba's compilation is not timed;
  loading is not timed either), and ``backtest_vs_hftbacktest`` = our events/s without the
  load / theirs (target ≥ 0.25).
The median of ``ROUNDS`` runs (one in --quick). Needs the shared recorded data; without it
every metric is NaN with the reason in ``backtest_skipped``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
from pathlib import Path

from thalex_mm.app.backtest_run import BacktestOptions, run_backtest
from thalex_mm.backtest.data import DATA_DIR

WINDOW = "binance-usdm_BTCUSDT_2024-08-08_2354-2400"
CONFIG = Path(__file__).resolve().parents[3] / "config" / "reference-quoter.toml"
ROUNDS = 3
ROOT = Path(__file__).resolve().parents[3]
PEER = ROOT / "tests" / "backtest" / "peer_hftbacktest.py"
PEER_PYTHON = Path(
    os.environ.get("THALEX_MM_HFTBACKTEST_PYTHON", ROOT / ".venv-hftbacktest" / "bin" / "python")
)


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
    ours_ex_load = best["rows"] / (phases["book"] + phases["core"])
    theirs = _hftbacktest_events_per_s()
    return {
        "backtest_events_per_s": round(statistics.median(s["events_per_s"] for s in runs)),
        "backtest_events_per_s_without_load": round(ours_ex_load),
        "backtest_hftbacktest_events_per_s": theirs if math.isnan(theirs) else round(theirs),
        "backtest_vs_hftbacktest": round(ours_ex_load / theirs, 3) if theirs > 0 else math.nan,
        "backtest_rows": best["rows"],
        "backtest_load_s": phases["load"],
        "backtest_book_s": phases["book"],
        "backtest_core_s": phases["core"],
        "backtest_fills": best["fills"],
        "backtest_pnl": best["pnl"],
    }


def _hftbacktest_events_per_s() -> float:
    """hftbacktest's events/s on the same window, or NaN when its venv is not there."""
    if not (PEER_PYTHON.is_file() and PEER.is_file()):
        return math.nan
    proc = subprocess.run(
        [str(PEER_PYTHON), str(PEER), str(DATA_DIR / WINDOW), "--warm"],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    if proc.returncode != 0:
        return math.nan
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["events_per_s"])
