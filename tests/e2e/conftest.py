"""End-to-end helpers: the runner against the in-process local exchange."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from thalex_mm.app.runner import Runner
from thalex_mm.app.settings import AppConfig, config_from_data
from thalex_mm.exchange.local import ExchangeConfig, GeneratedKey, LocalExchange
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.networks import Endpoint, Network


def exchange_config(**market: Any) -> ExchangeConfig:
    """A fast market: plenty of takers so our quotes fill within seconds."""
    options = {"taker_rate_per_s": 20.0, "volatility": 0.5}
    options.update(market)
    return ExchangeConfig(seed=3, time_scale=1.0, market_options=options)


def app_config(**instrument: Any) -> AppConfig:
    """The demo BTC-PERPETUAL instrument with per-test overrides (sections as dicts)."""
    inst: dict[str, Any] = {
        "name": "BTC-PERPETUAL",
        "quote": {"gamma_usd": 100.0, "lot_size": 0.001, "ladder": {"levels": 2}},
        "quoter": {"sigma_default": 2.0},
        "orders": {"amend_threshold_ticks": 3, "min_update_interval_ms": 50.0},
        "risk": {"max_position": 0.01},
    }
    for key, value in instrument.items():
        if isinstance(value, dict) and isinstance(inst.get(key), dict):
            inst[key] = {**inst[key], **value}
        else:
            inst[key] = value
    return config_from_data(
        {"run": {"timer_interval_ms": 50.0, "status_interval_s": 60.0}, "instruments": [inst]}
    )


def start_runner(
    ex: LocalExchange, cfg: AppConfig
) -> tuple[Runner, asyncio.Task[dict[str, Any]], GeneratedKey]:
    key = ex.new_test_key()
    creds = Credentials(key.key_id, key.private_pem, "test")
    runner = Runner(cfg, Endpoint(Network.LOCAL, ex.url), creds, mode="e2e")
    task = asyncio.get_running_loop().create_task(runner.run(None))
    return runner, task, key


async def wait_until(
    predicate: Callable[[], bool], timeout_s: float, what: str, step_s: float = 0.01
) -> float:
    """Poll ``predicate``; returns the seconds it took, fails the test after ``timeout_s``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(step_s)
    return time.monotonic() - start


async def stop_runner(runner: Runner, task: asyncio.Task[dict[str, Any]]) -> dict[str, Any]:
    runner.request_stop("test")
    return await asyncio.wait_for(task, 10)
