"""Benchmark: tick-to-order latency of the running engine under sustained market data.

The local exchange runs in its own process (so its CPU does not share the engine's event
loop; on a 2-core machine each gets one core) with 97 extra synthetic perpetuals and
``md_rate`` pacing: raw tickers of all 100 instruments are published round-robin at
10,000 msg/s in aggregate. The engine is the real ``Runner`` (uvloop, the venue client, the
core, no journal) quoting a few instruments and subscribed to the raw ticker of every
instrument, so it decodes the whole 10,000 msg/s stream while it quotes.

A sample is the time from the market-data frame read off the socket (``perf_counter_ns``
as the bytes arrive) to the write of the order frame it caused (``perf_counter_ns`` right
after the socket write), as the runner records it (app/latency.py). Metrics:

- ``tick_to_order_us_p50`` / ``_p99`` / ``_samples`` after a warm-up;
- ``tick_to_order_md_msgs_per_s``: frames the engine received per second (the rate achieved);
- ``tick_to_order_us_p50_first`` / ``_last`` (and p99): first vs last third of the run,
  the growth check; ``tick_to_order_us_p50_by_tenth``: the p50 of each tenth of the run, and
  ``tick_to_order_growth_us_per_min`` (``_se_``: its standard error): the fitted trend of
  those p50s, so a drift can be told from minute-to-minute noise;
- ``tick_to_order_orders_per_s``: order frames written per second;
- the same p50/p99 for the older writer-task I/O path (``_task`` suffix), measured in the
  same run for comparison (full run only);
- ``_spin``: the same run with ``run.busy_poll`` on (the loop polls instead of sleeping), so
  the CPU never idles between frames: how much of the time is the cost of waking up cold on
  a shared VM rather than the code (full run only; it burns a core, not a default);
- ``tick_to_order_{queue,handle,encode,write}_us_*``: the four parts of each sample
  (``app.latency.PHASES``), and ``loopback_wake_send_us_*``: a bare 200-byte loopback TCP
  send to a process asleep on the other core, the floor under the *write* part
  (``bench/cpu.py``).

``python -m thalex_mm.bench.tick_to_order --seconds 600`` runs the 10-minute check.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from thalex_mm.app.latency import PHASES
from thalex_mm.bench.cpu import loopback_wake_send_ns, pin, pinned_to

_READY_TIMEOUT_S = 60.0
_EXTRA_INSTRUMENTS = 97
# real time, 100 instruments, 10,000 raw tickers per second in aggregate; 10 ms steps move
# every mark as often as each channel is published, so publications carry new values
EXCHANGE_OPTIONS: dict[str, Any] = {
    "time_scale": 1.0,
    "step_ms": 10.0,
    "tick_ms": 1.0,
    "seed": 7,
    "extra_instruments": _EXTRA_INSTRUMENTS,
    "md_rate": 10_000.0,
    # 4x the documented order rates (the client's throttle is told the same): the quoter's
    # requotes are not held by the throttle, so samples measure the engine, not a queue wait
    "rate_scale": 4.0,
}
QUOTED = ("BTC-PERPETUAL", "ETH-PERPETUAL")
MIN_UPDATE_MS = 20.0


def serve_until_stdin_closes(options_json: str, key_id: str, public_pem: str) -> None:
    """Child process: run the exchange with ``options``, register the key, print the URL;
    when stdin closes, print the exchange's counters (one JSON line) and stop."""
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415

        uvloop.install()

    from thalex_mm.exchange.local import ExchangeConfig, LocalExchange  # noqa: PLC0415

    options = json.loads(options_json)

    async def main() -> None:
        async with LocalExchange(ExchangeConfig(**options)) as exchange:
            exchange.add_api_key(key_id, public_pem)
            print(exchange.url, flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.read)
            stats = exchange.hub.stats().as_dict()
        top = {k: v for k, v in stats.items() if not isinstance(v, dict | list)}
        print(json.dumps({"totals": stats.get("totals", {}), **top}), flush=True)

    asyncio.run(main())


class ExchangeProcess:
    """The local exchange in a child process; ``url`` once started."""

    def __init__(self, options: dict[str, Any], key_id: str, public_pem: bytes) -> None:
        code = "import sys; from thalex_mm.bench.tick_to_order import serve_until_stdin_closes"
        code += " as s; s(*sys.argv[1:])"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(options), key_id, public_pem.decode()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.stats: dict[str, Any] = {}
        pin(self.process.pid, 1)
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], _READY_TIMEOUT_S)
        self.url = self.process.stdout.readline().strip() if ready else ""
        if not self.url.startswith("ws://"):
            self.stop()
            raise RuntimeError("the exchange process did not start")

    def stop(self) -> None:
        process = self.process
        if process.stdin is not None and not process.stdin.closed:
            process.stdin.close()
            if process.stdout is not None and self.url:
                ready, _, _ = select.select([process.stdout], [], [], 10.0)
                if ready:
                    with contextlib.suppress(ValueError):
                        self.stats = json.loads(process.stdout.readline())
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _mean(values: npt.NDArray[np.int64] | None) -> float:
    return round(float(np.mean(values)), 2) if values is not None and len(values) else float("nan")


def _percentiles_us(samples: npt.NDArray[np.int64]) -> tuple[float, float]:
    if len(samples) == 0:
        return float("nan"), float("nan")
    p50, p99 = np.percentile(samples, [50, 99])
    return round(float(p50) / 1000.0, 1), round(float(p99) / 1000.0, 1)


async def _run_engine(
    url: str,
    key_id: str,
    private_pem: bytes,
    *,
    warmup_s: float,
    seconds: float,
    direct_io: bool,
    quoted: tuple[str, ...],
    mass_quote: bool,
    spin: bool = False,
    setup: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    from thalex_mm.app.runner import Runner  # noqa: PLC0415
    from thalex_mm.app.settings import (  # noqa: PLC0415
        AppConfig,
        RunSettings,
        demo_instrument,
        public_channels,
    )
    from thalex_mm.venue.thalex.client import ClientConfig  # noqa: PLC0415
    from thalex_mm.venue.thalex.credentials import Credentials  # noqa: PLC0415
    from thalex_mm.venue.thalex.networks import Endpoint, Network  # noqa: PLC0415
    from thalex_mm.venue.thalex.throttle import ThrottleConfig  # noqa: PLC0415

    config = AppConfig(
        run=RunSettings(status_interval_s=3600.0, latency_samples=1 << 20, busy_poll=spin),
        instruments=tuple(_instrument(demo_instrument(name), mass_quote) for name in quoted),
    )
    extra = tuple(
        f"ticker.SYN{n:03d}-PERPETUAL.raw"
        for n in range(1, _EXTRA_INSTRUMENTS + 1)
        if f"SYN{n:03d}-PERPETUAL" not in quoted
    )
    client_config = ClientConfig(
        public_channels=public_channels(config) + extra,
        throttle=ThrottleConfig(rate_scale=float(EXCHANGE_OPTIONS["rate_scale"])),
    )
    runner = Runner(
        config,
        Endpoint(Network.LOCAL, url),
        Credentials(key_id, private_pem, "a generated bench key"),
        client_config=client_config,
        direct_io=direct_io,
    )
    marks: dict[str, float] = {}

    async def mark_window() -> None:
        while runner.stats is None or not runner.client.ready:
            await asyncio.sleep(0.05)
        await asyncio.sleep(warmup_s)
        marks["start_samples"] = runner.stats.tick_to_order.ring.count
        assert runner.stats.tick_to_order.frame_counts is not None
        marks["start_frame_counts"] = runner.stats.tick_to_order.frame_counts.count
        for name, ring in zip(PHASES, runner.stats.tick_to_order.phase_rings, strict=True):
            marks[f"start_{name}"] = ring.count
        marks["start_frames"] = runner.client.protocol.stats.frames
        marks["start_tx"] = runner.client.tx_frames
        marks["start_t"] = time.perf_counter()
        await asyncio.sleep(seconds)
        marks["end_frames"] = runner.client.protocol.stats.frames
        marks["end_tx"] = runner.client.tx_frames
        marks["end_t"] = time.perf_counter()
        runner.request_stop("bench done")

    if setup is not None:  # another benchmark's hook (bench/monitor.py): the runner, unstarted
        setup(runner)
    window = asyncio.get_running_loop().create_task(mark_window())
    summary = await runner.run(warmup_s + seconds + 30.0)
    if not window.done():
        window.cancel()
        raise RuntimeError(f"engine stopped early: {summary.get('stop_reason')}")
    assert runner.stats is not None
    samples = runner.stats.tick_to_order.ring.ordered()[int(marks["start_samples"]) :]
    counts = runner.stats.tick_to_order.frame_counts
    assert counts is not None
    frame_counts = counts.ordered()[int(marks["start_frame_counts"]) :]
    phases = {
        name: ring.ordered()[int(marks[f"start_{name}"]) :]
        for name, ring in zip(PHASES, runner.stats.tick_to_order.phase_rings, strict=True)
    }
    elapsed = marks["end_t"] - marks["start_t"]
    return {
        "samples": samples,
        "phases": phases,
        "frame_counts": frame_counts,
        "seconds": elapsed,
        "md_per_s": (marks["end_frames"] - marks["start_frames"]) / elapsed,
        "orders_per_s": (marks["end_tx"] - marks["start_tx"]) / elapsed,
        "throttle_errors": summary.get("throttle_errors", 0),
    }


def _instrument(settings: Any, mass_quote: bool) -> Any:
    """The demo quoter, requoting on every 1-tick move at most every 20 ms per order (more
    samples than the demo's 3 ticks / 100 ms); in mass-quote mode one private/mass_quote
    per requote."""
    orders = dataclasses.replace(
        settings.orders, amend_threshold_ticks=1, min_update_interval_ms=MIN_UPDATE_MS
    )
    if mass_quote:
        orders = dataclasses.replace(
            orders, mass_quote=True, mm_trade_amount=0.01, mm_quote_amount=0.02
        )
    return dataclasses.replace(settings, orders=orders)


def measure(
    seconds: float,
    warmup_s: float = 2.0,
    *,
    direct_io: bool = True,
    options: dict[str, Any] | None = None,
    quoted: tuple[str, ...] = QUOTED,
    mass_quote: bool = False,
    spin: bool = False,
    setup: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """One exchange process, one engine run; the raw samples (ns) and rates."""
    from thalex_mm.venue.thalex.auth import generate_key_pair  # noqa: PLC0415

    private_pem, public_pem = generate_key_pair()
    key_id = "KBENCH0001"
    exchange = ExchangeProcess(options or EXCHANGE_OPTIONS, key_id, public_pem)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with pinned_to(0):
        try:
            coro = _run_engine(
                exchange.url,
                key_id,
                private_pem,
                warmup_s=warmup_s,
                seconds=seconds,
                direct_io=direct_io,
                quoted=quoted,
                mass_quote=mass_quote,
                spin=spin,
                setup=setup,
            )
            try:
                import uvloop  # noqa: PLC0415

                result: dict[str, Any] = uvloop.run(coro)
            except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
                result = asyncio.run(coro)
        finally:
            exchange.stop()
    result["exchange"] = exchange.stats
    result["load"] = load_before
    return result


def growth(samples: npt.NDArray[np.int64], seconds: float, parts: int = 10) -> dict[str, Any]:
    """The run cut into ``parts`` equal runs of samples (samples arrive at a steady rate, so
    these are nearly equal spans of time): each part's p50, and the least-squares slope of
    those p50s against time with its standard error, in us per minute. A slope within ~2
    standard errors of 0 is no growth this run can tell from the machine's own drift."""
    if len(samples) < parts * 20 or seconds <= 0:
        return {"p50s": [], "slope": math.nan, "se": math.nan}
    p50s = [_percentiles_us(part)[0] for part in np.array_split(samples, parts)]
    minutes = (np.arange(parts) + 0.5) * seconds / parts / 60.0
    fit, cov = np.polyfit(minutes, p50s, 1, cov=True)
    return {"p50s": p50s, "slope": float(fit[0]), "se": float(math.sqrt(cov[0][0]))}


def summarize(result: dict[str, Any], suffix: str = "") -> dict[str, float | int | str]:
    samples: npt.NDArray[np.int64] = result["samples"]
    p50, p99 = _percentiles_us(samples)
    trend = growth(samples, float(result.get("seconds", 0.0)))
    third = len(samples) // 3
    first_p50, first_p99 = _percentiles_us(samples[:third])
    last_p50, last_p99 = _percentiles_us(samples[len(samples) - third :])
    return {
        f"tick_to_order_us_p50{suffix}": p50,
        f"tick_to_order_us_p99{suffix}": p99,
        f"tick_to_order_samples{suffix}": len(samples),
        f"tick_to_order_md_msgs_per_s{suffix}": round(result["md_per_s"]),
        f"tick_to_order_orders_per_s{suffix}": round(result["orders_per_s"], 1),
        f"tick_to_order_us_p50_first{suffix}": first_p50,
        f"tick_to_order_us_p50_last{suffix}": last_p50,
        f"tick_to_order_us_p99_first{suffix}": first_p99,
        f"tick_to_order_us_p99_last{suffix}": last_p99,
        f"tick_to_order_us_p50_by_tenth{suffix}": " ".join(f"{v:.0f}" for v in trend["p50s"]),
        f"tick_to_order_growth_us_per_min{suffix}": round(trend["slope"], 2),
        f"tick_to_order_growth_se_us_per_min{suffix}": round(trend["se"], 2),
        f"tick_to_order_loadavg{suffix}": round(result["load"], 2),
        f"tick_to_order_frames_per_sample{suffix}": _mean(result.get("frame_counts")),
        **phase_metrics(result.get("phases", {}), suffix),
    }


def phase_metrics(
    phases: dict[str, npt.NDArray[np.int64]], suffix: str = ""
) -> dict[str, float | int | str]:
    """p50/p99 of each part of the samples (``app.latency.PHASES``): where the time goes."""
    out: dict[str, float | int | str] = {}
    for name, values in phases.items():
        p50, p99 = _percentiles_us(values)
        out[f"tick_to_order_{name}_us_p50{suffix}"] = p50
        out[f"tick_to_order_{name}_us_p99{suffix}"] = p99
    return out


def run(quick: bool) -> dict[str, float | int | str]:
    seconds = 6.0 if quick else 30.0  # --quick must finish within a minute in all
    out = summarize(measure(seconds, warmup_s=2.0 if quick else 3.0))
    wake_p50, wake_p99 = _percentiles_us(loopback_wake_send_ns(200 if quick else 1000))
    out["loopback_wake_send_us_p50"] = wake_p50
    out["loopback_wake_send_us_p99"] = wake_p99
    if not quick:
        out.update(summarize(measure(seconds, warmup_s=3.0, direct_io=False), "_task"))
        out.update(summarize(measure(seconds, warmup_s=3.0, spin=True), "_spin"))
    return out


def main(argv: list[str]) -> int:
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m thalex_mm.bench.tick_to_order")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--variant", choices=("direct", "task", "both"), default="both")
    parser.add_argument("--quoted", default=",".join(QUOTED))
    parser.add_argument("--mass-quote", action="store_true")
    args = parser.parse_args(argv)
    kw: dict[str, Any] = {"quoted": tuple(args.quoted.split(",")), "mass_quote": args.mass_quote}
    out: dict[str, float | int | str] = {}
    if args.variant in ("direct", "both"):
        out.update(summarize(measure(args.seconds, args.warmup, direct_io=True, **kw)))
    if args.variant in ("task", "both"):
        out.update(summarize(measure(args.seconds, args.warmup, direct_io=False, **kw), "_task"))
    wake_p50, wake_p99 = _percentiles_us(loopback_wake_send_ns())
    out["loopback_wake_send_us_p50"], out["loopback_wake_send_us_p99"] = wake_p50, wake_p99
    for key, value in out.items():
        print(f"{key:40s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
