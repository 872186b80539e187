"""A real engine run on the local exchange, watched live: scraped over HTTP (values checked
against the run summary), drawn by ``thalex-mm watch`` driven headless, and a metrics port
already in use refused with one line before the run connects."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from thalex_mm.app.live import open_live
from thalex_mm.app.runner import Runner
from thalex_mm.app.settings import config_from_data
from thalex_mm.cli.main import main
from thalex_mm.exchange.local import ExchangeConfig, LocalExchange
from thalex_mm.monitor.dashboard import frame_text
from thalex_mm.monitor.snapshot import SnapshotReader, list_snapshots
from thalex_mm.monitor.tui import WatchApp
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.networks import Endpoint, Network

from .conftest import free_port

BTC = "BTC-PERPETUAL"
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _config(tmp_path: Path, port: int | None = None) -> Any:
    run: dict[str, Any] = {
        "timer_interval_ms": 50.0,
        "status_interval_s": 60.0,
        "snapshot_dir": str(tmp_path),
    }
    if port is not None:
        run["metrics_port"] = port
    inst = {
        "name": BTC,
        "quote": {"gamma_usd": 100.0, "lot_size": 0.001, "ladder": {"levels": 2}},
        "quoter": {"sigma_default": 2.0},
        "orders": {"amend_threshold_ticks": 3, "min_update_interval_ms": 50.0},
        "risk": {"max_position": 0.01},
    }
    return config_from_data({"run": run, "instruments": [inst]})


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "run"))
            out[(s.name, labels)] = s.value
    return out


async def test_a_real_run_scraped_over_http_matches_its_summary(tmp_path: Path) -> None:
    port = free_port()
    cfg = _config(tmp_path, port)
    market = {"taker_rate_per_s": 20.0, "volatility": 0.5}
    async with LocalExchange(ExchangeConfig(seed=3, market_options=market)) as ex:
        key = ex.new_test_key()
        creds = Credentials(key.key_id, key.private_pem, "test")
        runner = Runner(cfg, Endpoint(Network.LOCAL, ex.url), creds, mode="e2e")
        live = open_live(cfg, "scrape-run", venue=ex.url, mode="e2e")
        assert live is not None and live.metrics is not None
        runner.live = live.feed
        try:
            task = asyncio.get_running_loop().create_task(runner.run(None))
            url = live.metrics.url
            deadline = time.monotonic() + 20
            while True:  # quoting and filled, seen from outside while it runs
                await asyncio.sleep(0.3)
                m = await asyncio.to_thread(_scrape, url)
                levels = sum(
                    m.get(("thalex_mm_quote_levels", (("instrument", BTC), ("side", side))), 0)
                    for side in ("bid", "ask")
                )  # one side may be pulled at the position limit
                fills = m.get(("thalex_mm_fills_total", (("instrument", BTC),)), 0)
                samples = m.get(("thalex_mm_tick_to_order_seconds_count", ()), 0)
                if fills >= 3 and levels and samples > 0:  # a tick has also led to orders
                    break
                assert time.monotonic() < deadline, "no fills, quotes and samples in the metrics"
            assert m[("thalex_mm_up", ())] == 1.0
            assert m[("thalex_mm_connected", ())] == 1.0
            runner.request_stop("test")
            summary = await asyncio.wait_for(task, 10)
            m = await asyncio.to_thread(_scrape, url)  # the final write, after the cancels
        finally:
            live.close()
    s = summary["instruments"][BTC]
    inst = (("instrument", BTC),)

    def metric(name: str, *extra: tuple[str, str]) -> float:
        return m[(name, tuple(sorted(inst + extra)))]

    assert m[("thalex_mm_up", ())] == 0.0  # stopped
    assert metric("thalex_mm_fills_total") == s["fills"] > 0
    rejected = sum(
        v for (name, labels), v in m.items()
        if name == "thalex_mm_rejections_total" and ("instrument", BTC) in labels
    )  # fmt: skip
    assert rejected == s["rejections"]  # the counts by code add up to the summary's
    assert metric("thalex_mm_order_actions_total", ("action", "insert")) == s["quotes_inserted"]
    assert metric("thalex_mm_order_actions_total", ("action", "amend")) == s["quotes_amended"]
    assert metric("thalex_mm_order_actions_total", ("action", "cancel")) == s["quotes_cancelled"]
    assert metric("thalex_mm_position") == pytest.approx(s["final_position"], abs=1e-9)
    assert metric("thalex_mm_max_inventory") == pytest.approx(s["max_inventory"], abs=1e-9)
    assert metric("thalex_mm_traded_volume_total") == pytest.approx(s["volume"], abs=1e-9)
    assert metric("thalex_mm_pnl_usd") == pytest.approx(s["total_pnl"], abs=1e-5)
    assert metric("thalex_mm_realised_pnl_usd") == pytest.approx(s["realised_pnl"], abs=1e-5)
    assert metric("thalex_mm_unrealised_pnl_usd") == pytest.approx(s["unrealised_pnl"], abs=1e-5)
    for component, key in (
        ("edge", "edge_usd"), ("inventory", "inventory_pnl"), ("carried", "carried_pnl"),
        ("fees", "fees"), ("funding", "funding"), ("unexplained", "unexplained_pnl"),
    ):  # fmt: skip
        got = metric("thalex_mm_pnl_component_usd", ("component", component))
        assert got == pytest.approx(s[key], abs=1e-5), component
    assert metric("thalex_mm_market_messages_total") > 0
    assert m[("thalex_mm_messages_received_total", ())] == summary["msgs_in"]
    assert m[("thalex_mm_messages_sent_total", ())] == summary["msgs_out"]
    assert m[("thalex_mm_reconnects_total", ())] == summary["reconnects"]
    assert m[("thalex_mm_throttle_errors_total", ())] == summary["throttle_errors"]
    # the histogram counts every tick-to-order sample the summary's percentiles come from
    count = m[("thalex_mm_tick_to_order_seconds_count", ())]
    assert count == summary["tick_to_order_samples"] > 0
    assert m[("thalex_mm_tick_to_order_seconds_bucket", (("le", "+Inf"),))] == count
    p50 = summary["tick_to_order_us_p50"] / 1e6
    below = [
        v for (name, labels), v in m.items()
        if name == "thalex_mm_tick_to_order_seconds_bucket" and labels
        and labels[0][1] != "+Inf" and float(labels[0][1]) < p50
    ]  # fmt: skip
    assert max(below, default=0.0) <= count / 2 + 1  # the buckets put the median where it is
    count_btc = metric("thalex_mm_instrument_tick_to_order_seconds_count")
    assert count_btc == s["tick_to_order_samples"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_a_metrics_port_in_use_is_one_error_line_at_start(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "c.toml").write_text(f'[run]\nsnapshot_dir = "{tmp_path}"\n')
        proc = subprocess.run(
            [sys.executable, "-m", "thalex_mm", "run", "--no-journal", "--duration", "5",
             "--config", str(tmp_path / "c.toml"), "--metrics-port", str(port)],
            check=False, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60,
        )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"thalex-mm run: error: metrics port {port} on 127.0.0.1: address already in use "
        "(another program or run listens there) (--metrics-port / run.metrics_port)"
    ], proc.stderr
    assert "logged in" not in proc.stdout + proc.stderr  # refused before connecting
    assert list_snapshots(tmp_path) == []  # nothing left behind


def test_bad_metrics_settings_are_user_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--metrics-port", "70000", "--no-journal"]) == 2
    assert "--metrics-port must be 1..65535" in capsys.readouterr().err
    with pytest.raises(Exception, match=r"run\.metrics_port needs run\.snapshot"):
        config_from_data({"run": {"metrics_port": 9100, "snapshot": False}})
    with pytest.raises(Exception, match="metrics_port"):
        config_from_data({"run": {"metrics_port": 0}})


async def test_watch_driven_headless_against_a_real_run(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(f'[run]\nsnapshot_dir = "{tmp_path}"\n')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "thalex_mm", "run", "--no-journal", "--duration", "30",
        "--config", str(tmp_path / "c.toml"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(), cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not list_snapshots(tmp_path):
            assert time.monotonic() < deadline, "no snapshot appeared"
            await asyncio.sleep(0.1)
        path = list_snapshots(tmp_path)[0]
        await asyncio.sleep(0.3)
        reader = SnapshotReader(path)
        app = WatchApp(reader, interval_s=0.2)
        async with app.run_test(size=(220, 40)) as pilot:
            deadline = time.monotonic() + 20
            while True:  # until the engine quotes and the dashboard shows it
                await pilot.pause(0.3)
                assert app.last_frame is not None
                text = frame_text(app.last_frame, width=220)
                if "3b/3a" in text and "connected" in text:
                    break
                assert time.monotonic() < deadline, text
            assert BTC in text and "ACTIVE" in text and "no alerts" in text
            svg = app.export_screenshot()  # what the terminal shows, not only our model of it
            assert "BTC-PERPETUAL" in svg
            frames = app.frames
            await pilot.pause(0.7)
            assert app.frames >= frames + 2  # refreshing a few times a second
            msgs = reader.read().run["msgs_in"]
            await pilot.press("p")
            paused_at = app.frames
            await pilot.pause(0.6)
            assert app.frames == paused_at  # paused
            assert reader.read().run["msgs_in"] > msgs  # while the engine goes on
            await pilot.press("q")
        reader.close()
        once = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "thalex_mm", "watch", str(path), "--once", "--width", "200",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(),
        )  # fmt: skip
        out, err = await asyncio.wait_for(once.communicate(), 30)
        assert once.returncode == 0, err.decode()
        text = out.decode()
        assert "market, model and our quotes" in text and BTC in text
        assert re.search(r"\b\db/\da\b", text) and "connected" in text  # our levels, live
        proc.terminate()  # SIGTERM: the run cancels, summarises and removes its snapshot
        await asyncio.wait_for(proc.wait(), 30)
        assert not path.exists()
        gone = subprocess.run(
            [sys.executable, "-m", "thalex_mm", "watch", str(path), "--once"],
            check=False, capture_output=True, text=True, env=_env(), timeout=30,
        )  # fmt: skip
        assert gone.returncode == 2 and len(gone.stderr.strip().splitlines()) == 1
        assert "no live snapshot" in gone.stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
