"""Replaying recorded windows: index follows the recorded mid, recorded trades take liquidity;
a replayed market is named as such (banner, exchange, run summary)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
from pathlib import Path

import pytest

from thalex_mm.domain import Side
from thalex_mm.exchange.engine import (
    IndexChanged,
    MatchingEngine,
    SessionRef,
    TradeEvent,
    default_instruments,
)
from thalex_mm.exchange.local import ExchangeConfig, LocalExchange, market_name
from thalex_mm.exchange.market import (
    MarketConfig,
    ReplayConfig,
    ReplayMarket,
    read_trades,
    window_paths,
)
from thalex_mm.exchange.market.replay import DATA_DIR

T0 = 1_763_000_000 * 1_000_000_000
PERP = "BTC-PERPETUAL"
MS = 1_000_000


def write_window(tmp: Path, name: str) -> None:
    base = 1_723_161_255_000_000_000
    bbo = [
        "local_ts_ns,exch_ts_ms,update_id,bid_px,bid_qty,ask_px,ask_qty",
        f"{base},1,1,61800.0,1,61802.0,1",
        f"{base + 500 * MS},1,2,61900.0,1,61902.0,1",
        f"{base + 900 * MS},1,3,,1,61902.0,1",  # empty side: skipped
    ]
    trades = [
        "local_ts_ns,exch_ts_ms,trade_id,price,qty,aggressor_side,order_type",
        f"{base + 100 * MS},1,1,61802.0,0.25,buy,MARKET",
        f"{base + 600 * MS},1,2,61900.0,0.1,sell,MARKET",
        f"{base + 700 * MS},1,3,61900.0,0.00001,sell,MARKET",  # below min amount: skipped
    ]
    for table, rows in (("bbo", bbo), ("trades", trades)):
        with gzip.open(tmp / f"{name}_{table}.csv.gz", "wt") as fh:
            fh.write("\n".join(rows) + "\n")


def test_replay_follows_mid_and_turns_trades_into_taker_orders(tmp_path: Path) -> None:
    write_window(tmp_path, "w")
    engine = MatchingEngine(default_instruments(T0))
    cfg = ReplayConfig(
        "w", data_dir=tmp_path, price_scale=1.5, background=MarketConfig(maker_half_spread_bps=1.0)
    )
    replay = ReplayMarket(engine, cfg)
    first = replay.step(T0)
    index_events = [e for e in first if isinstance(e, IndexChanged)]
    assert [e.price for e in index_events] == [pytest.approx(61801.0 * 1.5)]
    assert engine.book(PERP).asks  # background maker quoting around the scaled mid
    events = replay.step(T0 + 200 * MS)
    buys = [e.trade for e in events if isinstance(e, TradeEvent)]
    assert sum(t.amount for t in buys) == pytest.approx(0.25)
    assert all(t.taker_direction is Side.BUY for t in buys)
    assert engine.position_lots("SYNTH-TAKER", PERP) == 250
    events = replay.step(T0 + 2_000 * MS)
    assert engine.index_price("BTCUSD") == pytest.approx(61901.0 * 1.5)
    sells = [e.trade for e in events if isinstance(e, TradeEvent)]
    assert sum(t.amount for t in sells) == pytest.approx(0.1)
    assert replay.finished


def test_user_quotes_get_hit_by_recorded_flow(tmp_path: Path) -> None:
    write_window(tmp_path, "w")
    engine = MatchingEngine(default_instruments(T0))
    replay = ReplayMarket(engine, ReplayConfig("w", data_dir=tmp_path))
    replay.step(T0)
    me = SessionRef("ME", 9)
    engine.insert(T0 + 1, me, instrument_name=PERP, direction=Side.SELL, amount=0.1, price=61802)
    replay.step(T0 + 200 * MS)  # recorded buy of 0.25 at 61802 takes the best ask first
    assert engine.position_lots("ME", PERP) == -100


@pytest.mark.skipif(
    not (DATA_DIR / "binance-usdm_BTCUSDT_2024-08-08_2354-2400_trades.csv.gz").exists(),
    reason="recorded market data not found (set THALEX_MM_MARKET_DATA)",
)
def test_real_window_streams_and_trades() -> None:
    window = "binance-usdm_BTCUSDT_2024-08-08_2354-2400"
    trades_path, _ = window_paths(window)
    first = next(read_trades(trades_path))
    assert first.price > 0 and first.side in (Side.BUY, Side.SELL)
    engine = MatchingEngine(default_instruments(T0))
    replay = ReplayMarket(engine, ReplayConfig(window))
    replay.step(T0)
    n_trades = 0
    for i in range(1, 21):
        n_trades += sum(isinstance(e, TradeEvent) for e in replay.step(T0 + i * 250 * MS))
    assert n_trades > 0
    assert engine.index_price("BTCUSD") == pytest.approx(61_800, rel=0.01)


def test_missing_window_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing file"):
        window_paths("nope", tmp_path)
    with pytest.raises(ValueError, match="qty_scale"):
        ReplayConfig("w", qty_scale=0.0)


SRC = str(Path(__file__).resolve().parents[3] / "src")
WINDOW = "binance-usdm_BTCUSDT_2024-08-08_2354-2400"


def test_market_names() -> None:
    assert market_name(ExchangeConfig()) == "synthetic market"
    assert market_name(ExchangeConfig(market=False)) == "no market"
    assert market_name(ExchangeConfig(replay=f"/data/{WINDOW}_trades.csv.gz")) == (
        f"replay of {WINDOW}"
    )


def test_the_system_info_banner_names_the_replayed_window(tmp_path: Path) -> None:
    write_window(tmp_path, WINDOW)
    exchange = LocalExchange(ExchangeConfig(replay=str(tmp_path / WINDOW)))
    assert exchange.market_name == f"replay of {WINDOW}"
    session = exchange.hub.open_session(0)
    session.receive('{"method":"public/system_info","id":1,"params":{}}', 0)
    (reply,) = session.take_output()
    banner = json.loads(reply)["result"]["banners"][0]["message"]
    assert f"replay of {WINDOW}" in banner and "synthetic" not in banner


@pytest.mark.timeout(90)
async def test_a_replay_runs_summary_says_replay_not_synthetic_market(tmp_path: Path) -> None:
    """`thalex-mm run` called every in-process exchange a "synthetic market", replays too."""
    write_window(tmp_path, WINDOW)
    config = tmp_path / "run.toml"
    config.write_text(f'[local_exchange]\nreplay = "{tmp_path / WINDOW}"\n')
    summary_file = tmp_path / "summary.json"
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("THALEX_MM_PRIVATE_KEY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "thalex_mm", "run", "--config", str(config), "--duration", "2",
        "--no-journal", "--summary-json", str(summary_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 80)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    mode = json.loads(summary_file.read_text())["mode"]
    assert mode == f"local exchange (in-process, replay of {WINDOW})"
    assert "synthetic market" not in stdout.decode()
