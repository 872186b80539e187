"""``thalex-mm record`` end to end: record the local exchange, then backtest what was
recorded; a killed recording keeps what it had flushed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from pyarrow import ipc

from thalex_mm.app.backtest_run import BacktestOptions, run_backtest
from thalex_mm.backtest.data import find_window, read_table
from thalex_mm.backtest.recording import RecordingWriter, read_stream
from thalex_mm.exchange.local import ExchangeConfig, LocalExchange

ROOT = Path(__file__).resolve().parents[2]


async def _record(url: str, out: Path, seconds: float) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "thalex_mm", "record", "--network", "local", "--url", url,
        "--instruments", "BTC-PERPETUAL", "--out", str(out), "--duration", str(seconds),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), seconds + 30)
    assert proc.returncode is not None
    return subprocess.CompletedProcess([], proc.returncode, stdout.decode(), stderr.decode())


@pytest.mark.slow
async def test_record_the_local_exchange_then_backtest_it(tmp_path: Path) -> None:
    async with LocalExchange(
        ExchangeConfig(seed=5, market_options={"taker_rate_per_s": 5.0})
    ) as ex:
        done = await _record(ex.url, tmp_path, 12.0)
    assert done.returncode == 0, done.stderr
    (window_line,) = [line.strip() for line in done.stdout.splitlines() if "thalex-local_" in line]
    window = find_window(str(tmp_path / window_line))
    assert window.suffix == ".parquet" and window.market.tick == 1.0  # from the venue
    depth = read_table(window, "depth")
    trades = read_table(window, "trades")
    assert depth["is_snapshot"][0] == 1 and len(depth["qty"]) > 50
    assert len(trades["qty"]) > 10  # 5 takers per side and second for 12 s
    summary = run_backtest(BacktestOptions(str(window.prefix), progress=False))
    assert summary["rows"] == len(depth["qty"]) + len(trades["qty"])
    assert summary["simulated_s"] > 8.0


def test_a_killed_recording_keeps_every_flushed_second(tmp_path: Path) -> None:
    """The writer appends one batch per flush to an Arrow stream; a process killed after
    three flushes (mid-way through a fourth) leaves the three batches readable."""
    script = f"""
import os, signal
from pathlib import Path
from thalex_mm.backtest.recording import RecordingWriter, read_stream
w = RecordingWriter(Path({str(tmp_path / "w")!r}), tick=1.0, lot=0.001)
for second in range(3):
    w.add("trades", (second, second, str(second), 100.0 + second, 0.5, "buy"))
    w.flush()
w.add("trades", (9, 9, "9", 109.0, 0.5, "sell"))  # never flushed
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], check=False, cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL
    stream = tmp_path / "w_trades.arrows"
    with open(stream, "rb") as f:
        table = ipc.open_stream(f).read_all()
    assert table.column("price").to_pylist() == [100.0, 101.0, 102.0]
    # and a torn last batch is dropped, not fatal
    data = stream.read_bytes()
    stream.write_bytes(data[:-7])
    assert read_stream(stream).num_rows >= 2


def test_close_writes_parquet_and_removes_the_streams(tmp_path: Path) -> None:
    w = RecordingWriter(tmp_path / "x", tick=0.1, lot=0.01)
    w.add("depth", (1, 1, 1, 1, 0, 1, "bid", 99.9, 1.0))
    paths = w.close()
    assert {p.name for p in paths} == {"x_trades.parquet", "x_depth.parquet", "x_ticker.parquet"}
    assert not list(tmp_path.glob("*.arrows"))
    assert os.path.isfile(tmp_path / "x_meta.json")
    assert isinstance(pa.__version__, str)
