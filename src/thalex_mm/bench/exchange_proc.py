"""The local exchange in its own process, driven over a pipe (engine benchmarks use it).

The engine under test and the exchange must not share a core's time slices inside one
process, or every exchange hiccup would look like engine loop lag. ``ExchangeProcess``
starts ``serve`` in a child Python, which prints one JSON line (URL, a generated test key,
the listed instruments) and then answers one line per command read from stdin:

- ``stats``: the hub's counters (totals, our session's counters), the quotes our account has
  live per instrument (bid and ask counts) and the process's CPU seconds so far.

Closing stdin stops the exchange. The key is a throwaway one the child generated for this
run; it only travels through the pipe.
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
from dataclasses import dataclass
from typing import Any

from thalex_mm.domain import Side

_READY_TIMEOUT_S = 60.0
_REPLY_TIMEOUT_S = 10.0

# 100 instruments in real time: 97 synthetic perpetuals next to the 3 regular ones, raw
# tickers and top-of-book (lwt) channels published round-robin at md_rate msg/s in aggregate;
# 10 ms steps move every mark about as often as each channel is published.
HUNDRED_AT_10K: dict[str, Any] = {
    "time_scale": 1.0,
    "step_ms": 10.0,
    "tick_ms": 1.0,
    "seed": 1,
    "extra_instruments": 97,
    "md_rate": 10_000.0,
}
# the three regular instruments, market data published on change (the default exchange)
DEFAULT_MARKET: dict[str, Any] = {"time_scale": 1.0, "seed": 1}


@dataclass(frozen=True, slots=True)
class ListedInstrument:
    name: str
    amount_step: float
    min_amount: float
    product: str


@dataclass(frozen=True, slots=True)
class Hello:
    url: str
    key_id: str
    private_pem: bytes
    account: str
    instruments: tuple[ListedInstrument, ...]


def _stats(exchange: Any, account: str) -> dict[str, Any]:
    stats = exchange.hub.stats().as_dict()
    ours = [s for s in stats.pop("sessions") if s.get("account") == account]
    quotes: dict[str, list[int]] = {}
    for order in exchange.engine.open_orders(account):
        sides = quotes.setdefault(order.instrument_name, [0, 0])
        sides[0 if order.direction is Side.BUY else 1] += 1
    return {
        **stats,
        "our_sessions": ours,
        "quotes": quotes,
        "cpu_s": time.process_time(),
    }


def serve(options_json: str) -> None:
    """Child process: run the exchange with ``options_json``; answer commands from stdin."""
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415

        uvloop.install()
    from thalex_mm.exchange.local import ExchangeConfig, LocalExchange  # noqa: PLC0415

    options = json.loads(options_json)

    async def main() -> None:
        async with LocalExchange(ExchangeConfig(**options)) as exchange:
            key = exchange.new_test_key()
            listed = [
                {
                    "name": i.spec.name,
                    "amount_step": i.spec.amount_step,
                    "min_amount": i.spec.min_amount,
                    "product": i.spec.product,
                }
                for i in exchange.engine.instruments()
            ]
            hello = {
                "url": exchange.url,
                "key_id": key.key_id,
                "private_pem": key.private_pem.decode("ascii"),
                "account": key.account,
                "instruments": listed,
            }
            print(json.dumps(hello), flush=True)
            loop = asyncio.get_running_loop()
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    break
                if line.strip() == "stats":
                    print(json.dumps(_stats(exchange, key.account)), flush=True)
                else:
                    print(json.dumps({"error": f"unknown command {line.strip()!r}"}), flush=True)

    asyncio.run(main())


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (Linux /proc), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class ExchangeProcess:
    """``with ExchangeProcess(options) as ex: ex.hello.url ...; ex.stats()``."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.process: subprocess.Popen[str] | None = None
        self.hello: Hello | None = None

    def __enter__(self) -> ExchangeProcess:
        code = "import sys; from thalex_mm.bench.exchange_proc import serve; serve(sys.argv[1])"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(self.options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            data = self._read_line(_READY_TIMEOUT_S)
        except Exception:
            self.__exit__()
            raise
        self.hello = Hello(
            url=data["url"],
            key_id=data["key_id"],
            private_pem=data["private_pem"].encode("ascii"),
            account=data["account"],
            instruments=tuple(ListedInstrument(**i) for i in data["instruments"]),
        )
        return self

    def _read_line(self, timeout_s: float) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout_s)
        line = process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError("the exchange process did not answer (did it start?)")
        data: dict[str, Any] = json.loads(line)
        return data

    def stats(self) -> dict[str, Any]:
        """The exchange's counters now (blocking; call it off the event loop)."""
        process = self.process
        assert process is not None and process.stdin is not None
        process.stdin.write("stats\n")
        process.stdin.flush()
        return self._read_line(_REPLY_TIMEOUT_S)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __exit__(self, *exc: object) -> None:
        process = self.process
        if process is None:
            return
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()
