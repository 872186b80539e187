"""Backtests end to end on a small window written here, and bad input (the recorded
window against hftbacktest itself: test_vs_hftbacktest.py)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from thalex_mm.app.backtest_run import BacktestOptions, run_backtest
from thalex_mm.backtest.data import DATA_DIR, convert, find_window
from thalex_mm.errors import UserError
from thalex_mm.journal.query import Reader

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "config" / "reference-quoter.toml"
WINDOW = "binance-usdm_BTCUSDT_2024-08-08_2354-2400"
DEPTH_HEAD = (
    "local_ts_ns,exch_ts_ms,first_update_id,final_update_id,prev_final_update_id,"
    "is_snapshot,side,price,qty"
)
TRADES_HEAD = "local_ts_ns,exch_ts_ms,trade_id,price,qty,aggressor_side,order_type"


def _write(folder: Path, name: str, depth: list[str], trades: list[str]) -> str:
    for table, head, rows in (("depth", DEPTH_HEAD, depth), ("trades", TRADES_HEAD, trades)):
        with gzip.open(folder / f"{name}_{table}.csv.gz", "wt") as f:
            f.write("\n".join([head, *rows]) + "\n")
    (folder / f"{name}_meta.json").write_text('{"tick": 0.1, "lot": 0.001}\n')  # its grid
    return str(folder / name)


def _small_window(folder: Path, *, gap: bool = False) -> str:
    """60 s of a BTCUSDT book around 60,000 with the spread 0.1 wide, one diff and one
    buy and one sell print every 100 ms, the best levels re-filled after each."""
    t0 = 1_700_000_000_000
    depth = [f"0,{t0},,100,,1,bid,60000.0,1.0", f"0,{t0},,100,,1,ask,60000.1,1.0"]
    depth += [f"0,{t0},,100,,1,bid,{60000.0 - i / 10:.1f},2.0" for i in range(1, 20)]
    depth += [f"0,{t0},,100,,1,ask,{60000.1 + i / 10:.1f},2.0" for i in range(1, 20)]
    trades = []
    uid = 100
    for step in range(1, 600):
        ts = t0 + 100 * step
        prev, uid = uid, uid + 5
        if gap and step == 300:
            prev += 1
        depth.append(f"0,{ts},{prev + 1},{uid},{prev},0,bid,60000.0,1.0")
        depth.append(f"0,{ts},{prev + 1},{uid},{prev},0,ask,60000.1,1.0")
        if step % 20 == 0:  # a sweep that reaches 1 USD deep on each side
            trades.append(f"0,{ts},{step},59999.0,3.0,sell,MARKET")
            trades.append(f"0,{ts},{step + 1},60001.1,3.0,buy,MARKET")
    return _write(folder, "test-usdm_BTCUSDT_x", depth, trades)


def test_the_reference_quoter_fills_on_sweeps_that_reach_it(tmp_path: Path) -> None:
    prefix = _small_window(tmp_path)
    summary = run_backtest(
        BacktestOptions(prefix, REFERENCE, latency_ms=(10.0, 10.0), fees=(-0.00005, 0.0004),
                        partial_fills=False, progress=False)
    )  # fmt: skip
    # every 2 s a sweep takes everything within 1 USD: our bid and ask (5 ticks = 0.5 USD
    # from the mid) fill each time once resting; 29 sweeps, after the first quotes rest
    assert summary["fills"] == pytest.approx(2 * 29, abs=2)
    assert summary["max_inventory"] <= 0.1 + 1e-9
    # each fill earns 0.55 USD per BTC against the mid (5 ticks plus half the spread) and a
    # 0.5 bp rebate; PnL = edge + inventory − fees, identically
    assert summary["edge_per_unit"] == pytest.approx(0.55, abs=0.01)
    total = summary["edge_at_fill"] + summary["inventory_pnl"] - summary["fees"]
    assert summary["pnl"] == pytest.approx(total, abs=1e-6)
    assert summary["fees"] < 0


@pytest.mark.slow
@pytest.mark.skipif(not (DATA_DIR / f"{WINDOW}_depth.csv.gz").is_file(), reason="no recorded data")
def test_latency_draws_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> tuple[int, float]:
        s = run_backtest(
            BacktestOptions(WINDOW, REFERENCE, latency_ms=(10.0, 10.0), latency_jitter_ms=30.0,
                            seed=seed, partial_fills=False, progress=False)
        )  # fmt: skip
        return s["fills"], s["pnl"]

    first = run(1)
    assert run(1) == first
    assert run(2) != first  # the draws change what happens


def test_the_native_format_replays_the_same(tmp_path: Path) -> None:
    prefix = _small_window(tmp_path)
    written = convert(find_window(prefix), tmp_path / "native")
    assert [p.suffix for p in written] == [".parquet", ".parquet"]
    native = find_window(str(tmp_path / "native" / Path(prefix).name))
    assert native.suffix == ".parquet"
    opts = {"latency_ms": (10.0, 10.0), "partial_fills": False, "progress": False}
    a = run_backtest(BacktestOptions(prefix, REFERENCE, **opts))  # type: ignore[arg-type]
    b = run_backtest(BacktestOptions(str(native.prefix), REFERENCE, **opts))  # type: ignore[arg-type]
    assert (a["fills"], a["pnl"]) == (b["fills"], b["pnl"])


def test_a_gap_in_update_ids_is_one_line(tmp_path: Path) -> None:
    prefix = _small_window(tmp_path, gap=True)
    with pytest.raises(UserError, match="gap in depth update ids"):
        run_backtest(BacktestOptions(prefix, REFERENCE, progress=False))


def test_bad_windows_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown window"):
        find_window("no-such-window")
    bad = tmp_path / "bad"
    bad.mkdir()
    for table in ("depth", "trades"):  # a file with other columns
        with gzip.open(bad / f"test-usdm_BTCUSDT_y_{table}.csv.gz", "wt") as f:
            f.write("when,what\n1,2\n")
    (bad / "test-usdm_BTCUSDT_y_meta.json").write_text('{"tick": 0.1, "lot": 0.001}')
    prefix = str(bad / "test-usdm_BTCUSDT_y")
    with pytest.raises(UserError, match="missing columns"):
        run_backtest(BacktestOptions(prefix, REFERENCE, progress=False))


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="no recorded data")
def test_inverse_windows_are_refused_in_one_line() -> None:
    with pytest.raises(UserError, match="inverse"):
        run_backtest(BacktestOptions("binance-coinm_BTCUSD_PERP_2024-08-08_2354-0005", REFERENCE))


def test_the_cli_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "thalex_mm", "backtest", "--data", "nope", "--queue", "fifo"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--queue" in proc.stderr


def test_a_journaled_backtest_reads_back_with_journal_summary(tmp_path: Path) -> None:
    prefix = _small_window(tmp_path)
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    summary = run_backtest(
        BacktestOptions(prefix, REFERENCE, latency_ms=(10.0, 10.0), partial_fills=False,
                        progress=False, journal=url)
    )  # fmt: skip
    with Reader(url) as r:
        (venue,) = [row[0] for row in r.rows("SELECT venue FROM runs")]
        fills = r.rows("SELECT side, price, amount, fair FROM fills")
    assert venue == "backtest:test-usdm_BTCUSDT_x"
    assert len(fills) == summary["fills"]
    assert all(fair is not None for *_, fair in fills)
    proc = subprocess.run(
        [sys.executable, "-m", "thalex_mm", "journal", "summary", "--journal", url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("BTCUSDT"))
    assert row.split()[2] == str(summary["fills"])
