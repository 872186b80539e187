"""Benchmark: market-data throughput of the local exchange to one client over loopback.

The exchange runs in its own process (as it does when an engine is benchmarked against it),
with the synthetic market stepped as fast as the CPU allows (a high time scale, 1 ms steps). A
plain WebSocket client subscribes to the raw ticker of every listed instrument and counts the
ticker notifications it receives per second of wall time, after a short warm-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import subprocess
import sys
import time

import msgspec
import websockets

_READY_TIMEOUT_S = 60.0
_TICKER_MARK = b'"channel_name":"ticker.'
_OPTIONS = {"time_scale": 1000.0, "step_ms": 1.0, "tick_ms": 1.0, "seed": 1}


def serve_until_stdin_closes() -> None:
    """Child process: run the exchange, print its URL, stop when stdin closes."""
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415

        uvloop.install()

    from thalex_mm.exchange.local import ExchangeConfig, LocalExchange  # noqa: PLC0415

    async def main() -> None:
        async with LocalExchange(ExchangeConfig(**_OPTIONS)) as exchange:  # type: ignore[arg-type]
            print(exchange.url, flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


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


def run(quick: bool) -> dict[str, float | int | str]:
    duration_s = 1.5 if quick else 6.0
    code = "from thalex_mm.bench.exchange import serve_until_stdin_closes as s; s()"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], _READY_TIMEOUT_S)
        url = process.stdout.readline().strip() if ready else ""
        if not url.startswith("ws://"):
            raise RuntimeError("the exchange process did not start")
        count, elapsed = asyncio.run(_count_tickers(url, 0.5 if quick else 1.0, duration_s))
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return {
        "exchange_md_msgs_per_s": round(count / elapsed),
        "exchange_md_seconds": round(elapsed, 2),
    }


if __name__ == "__main__":
    print(run(quick=True))
