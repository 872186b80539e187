"""The backtester against hftbacktest 2.4.4, side by side on the same recorded window with
the same reference quoter (docs/backtest.md): fills within 10 % and PnL within 2 USDT, for
the risk-averse and the power-3 queue models.

hftbacktest runs in its own venv (``make hftbacktest-venv``: it needs numpy < 2.3) through
``peer_hftbacktest.py``. Without that venv the test is skipped with the reason, except when
``THALEX_MM_REQUIRE_HFTBACKTEST=1`` (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thalex_mm.app.backtest_run import BacktestOptions, run_backtest
from thalex_mm.backtest.data import DATA_DIR

ROOT = Path(__file__).resolve().parents[2]
PEER = Path(__file__).with_name("peer_hftbacktest.py")
WINDOW = "binance-usdm_BTCUSDT_2024-08-08_2354-2400"
PYTHON = Path(os.environ.get("THALEX_MM_HFTBACKTEST_PYTHON", ROOT / ".venv-hftbacktest/bin/python"))


def _require() -> None:
    reasons = []
    if not PYTHON.is_file():
        reasons.append(f"no hftbacktest venv at {PYTHON} (make hftbacktest-venv)")
    if not (DATA_DIR / f"{WINDOW}_depth.csv.gz").is_file():
        reasons.append(f"no recorded data in {DATA_DIR}")
    if reasons:
        if os.environ.get("THALEX_MM_REQUIRE_HFTBACKTEST", "") == "1":
            pytest.fail("THALEX_MM_REQUIRE_HFTBACKTEST=1 but " + "; ".join(reasons))
        pytest.skip("; ".join(reasons))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ours", "theirs"), [("risk-averse", "risk-averse"), ("power:3", "power3")]
)
def test_fills_and_pnl_match_hftbacktest(ours: str, theirs: str) -> None:
    _require()
    peer = subprocess.run(
        [str(PYTHON), str(PEER), str(DATA_DIR / WINDOW), "--queue", theirs],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert peer.returncode == 0, peer.stderr[-2000:]
    hbt = json.loads(peer.stdout.strip().splitlines()[-1])
    summary = run_backtest(
        BacktestOptions(
            WINDOW, ROOT / "config" / "reference-quoter.toml", queue=ours,
            latency_ms=(10.0, 10.0), fees=(-0.00005, 0.0004), partial_fills=False,
            progress=False,
        )
    )  # fmt: skip
    print(json.dumps({"hftbacktest": hbt, "thalex_mm": summary}), file=sys.stderr)
    assert summary["fills"] == pytest.approx(hbt["fills"], rel=0.10)
    assert summary["volume"] == pytest.approx(hbt["volume"], rel=0.10)
    assert summary["pnl"] == pytest.approx(hbt["pnl"], abs=2.0)
    assert summary["pnl_before_fees"] == pytest.approx(hbt["pnl_before_fees"], abs=2.0)
