"""Benchmark: market-data throughput of the local exchange to one client over loopback.

The exchange runs in its own process (as it does when an engine is benchmarked against it).
A plain WebSocket client subscribes to the raw ticker of every listed instrument and counts
the ticker notifications it receives per second of wall time, after a short warm-up.

- ``exchange_md_msgs_per_s``: the three regular instruments, the synthetic market stepped as
  fast as the CPU allows (a high time scale, 1 ms steps): the exchange's ceiling. Flow control
  is on (the market waits while the client has > 4 MiB unread), so the exchange cannot outrun
  the reader into a slow-consumer disconnect.
- ``exchange_md_msgs_per_s_100_instruments``: the same with 97 extra synthetic perpetuals.
- ``exchange_md_rate_10k_achieved``: 100 instruments in real time with ``md_rate = 10000``:
  the rate a client sees when a benchmark asks for 10,000 msg/s, with the exchange's own
  counters (dropped frames, repeated values) and its CPU use while doing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import subprocess
import sys
import time
from typing import Any

import msgspec
import websockets

_READY_TIMEOUT_S = 60.0
_TICKER_MARK = b'"channel_name":"ticker.'
# flow control: the market waits while the client has > 4 MiB unread, so a ceiling measures
# what the exchange can deliver rather than how long it takes to outrun the reader
_FAST: dict[str, Any] = {
    "time_scale": 1000.0,
    "step_ms": 1.0,
    "tick_ms": 1.0,
    "seed": 1,
    "flow_control_bytes": 4 << 20,
}
_HUNDRED: dict[str, Any] = {**_FAST, "extra_instruments": 97}
# real time, 100 instruments; 10 ms steps move every mark 100 times a second, as often as
# each of the 100 channels is published at 10,000 msg/s, so publications carry new values
_RATE_10K: dict[str, Any] = {
    "time_scale": 1.0,
    "step_ms": 10.0,
    "tick_ms": 1.0,
    "seed": 1,
    "extra_instruments": 97,
    "md_rate": 10_000.0,
}


def serve_until_stdin_closes(options_json: str = "{}") -> None:
    """Child process: run the exchange, print its URL; when stdin closes, print its counters
    (one JSON line) and stop."""
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415

        uvloop.install()

    from thalex_mm.exchange.local import ExchangeConfig, LocalExchange  # noqa: PLC0415

    options = json.loads(options_json) or _FAST

    async def main() -> None:
        async with LocalExchange(ExchangeConfig(**options)) as exchange:
            print(exchange.url, flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.read)
            stats = exchange.hub.stats().as_dict()
        print(json.dumps({"totals": stats["totals"], **_top_level(stats)}), flush=True)

    asyncio.run(main())


def _top_level(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stats.items() if not isinstance(v, dict | list)}


async def _count_tickers(url: str, warmup_s: float, duration_s: float) -> tuple[int, float]:
    async with websockets.connect(url, compression=None, max_size=2**20, close_timeout=0.5) as ws:
        await ws.send(b'{"method":"public/instruments","id":1,"params":{}}', text=True)
        reply = msgspec.json.decode(await ws.recv(decode=False))
        names = [item["instrument_name"] for item in reply["result"]]
        channels = [f"ticker.{name}.raw" for name in names]
        request = {"method": "public/subscribe", "id": 2, "params": {"channels": channels}}
        await ws.send(msgspec.json.encode(request), text=True)
        loop = asyncio.get_running_loop()
        warm_until = loop.time() + warmup_s
        while loop.time() < warm_until:
            await ws.recv(decode=False)
        count = 0
        start = time.perf_counter()
        end = start + duration_s
        while True:
            message = await ws.recv(decode=False)
            if _TICKER_MARK in message:
                count += 1
                if count % 256 == 0 and time.perf_counter() >= end:
                    break
        return count, time.perf_counter() - start


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (Linux /proc), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def measure(options: dict[str, Any], warmup_s: float, duration_s: float) -> dict[str, Any]:
    """Run one exchange process with ``options``; count what one client receives."""
    code = "import sys; from thalex_mm.bench.exchange import serve_until_stdin_closes as s; "
    code += "s(sys.argv[1])"
    process = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(options)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stats: dict[str, Any] = {}
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], _READY_TIMEOUT_S)
        url = process.stdout.readline().strip() if ready else ""
        if not url.startswith("ws://"):
            raise RuntimeError("the exchange process did not start")
        cpu_before = _cpu_seconds(process.pid)
        count, elapsed = asyncio.run(_count_tickers(url, warmup_s, duration_s))
        cpu_after = _cpu_seconds(process.pid)
        assert process.stdin is not None
        process.stdin.close()
        line = process.stdout.readline()
        with contextlib.suppress(ValueError):
            stats = json.loads(line)
    finally:
        if process.stdin is not None and not process.stdin.closed:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    cpu_pct = None
    if cpu_before is not None and cpu_after is not None:
        cpu_pct = 100.0 * (cpu_after - cpu_before) / elapsed
    return {"count": count, "elapsed": elapsed, "cpu_pct": cpu_pct, "stats": stats}


def run(quick: bool) -> dict[str, float | int | str]:
    duration_s = 1.5 if quick else 6.0
    warmup_s = 0.5 if quick else 1.0
    fast = measure(_FAST, warmup_s, duration_s)
    hundred = measure(_HUNDRED, warmup_s, duration_s)
    paced = measure(_RATE_10K, warmup_s, duration_s)
    paced_stats = paced["stats"]
    totals = paced_stats.get("totals", {})
    published = max(int(paced_stats.get("paced_publications", 0)), 1)
    out: dict[str, float | int | str] = {
        "exchange_md_msgs_per_s": round(fast["count"] / fast["elapsed"]),
        "exchange_md_seconds": round(fast["elapsed"], 2),
        "exchange_md_msgs_per_s_100_instruments": round(hundred["count"] / hundred["elapsed"]),
        "exchange_md_rate_10k_achieved": round(paced["count"] / paced["elapsed"]),
        "exchange_md_rate_10k_frames_dropped": int(totals.get("frames_dropped", -1)),
        "exchange_md_rate_10k_frames_unsent_at_close": int(
            totals.get("frames_unsent_at_close", -1)
        ),
        "exchange_md_rate_10k_slow_consumers": int(
            paced_stats.get("slow_consumer_disconnects", -1)
        ),
        "exchange_md_rate_10k_repeat_pct": round(
            100.0 * int(paced_stats.get("paced_repeats", 0)) / published, 2
        ),
    }
    if paced["cpu_pct"] is not None:
        out["exchange_md_rate_10k_server_cpu_pct"] = round(paced["cpu_pct"], 1)
    return out


if __name__ == "__main__":
    print(run(quick="--full" not in sys.argv))
