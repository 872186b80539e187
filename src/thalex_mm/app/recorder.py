"""``thalex-mm record``: Thalex's public feeds to files a backtest replays.

Thalex is not covered by the market-data vendors, so users record their own. For each
instrument the recorder subscribes to the book with its snapshot and every change
(``book.<instrument>.none.all.raw``, which also carries the trades) and the raw ticker
(mark, index, funding), and writes the backtest's native format through
``backtest.recording.RecordingWriter``: a depth table (a snapshot, then the changes, with a
running update id), a trades table and a ticker table, each row with the local receive time
and the venue's time. Files rotate every ``rotate_s`` (an hour by default), one window per
instrument and period named ``thalex-<network>_<instrument>_<YYYY-MM-DD_HHMMSS>``; rows are
flushed every second, so SIGTERM loses nothing and SIGKILL at most the last second.

Only public channels are used: no login, no orders, so production is safe to record.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from thalex_mm.backtest.recording import RecordingWriter
from thalex_mm.errors import UserError

_json = msgspec.json.Decoder()


@dataclass(slots=True)
class _Instrument:
    name: str
    tick: float
    lot: float
    writer: RecordingWriter | None = None
    started_ns: int = 0
    update_id: int = 0
    snapshot_seen: bool = False
    trades: int = 0
    bids: dict[float, float] = field(default_factory=dict)  # the book now (for rotation)
    asks: dict[float, float] = field(default_factory=dict)


@dataclass(slots=True)
class RecordStats:
    windows: list[str] = field(default_factory=list)
    rows: int = 0
    messages: int = 0


class Recorder:
    """Records ``instruments`` from ``url`` into ``out_dir``; see the module docstring."""

    def __init__(
        self,
        url: str,
        network: str,
        instruments: list[str],
        out_dir: Path,
        *,
        duration_s: float | None = None,
        rotate_s: float = 3600.0,
        flush_s: float = 1.0,
    ) -> None:
        if not instruments:
            raise UserError("--instruments needs at least one instrument name")
        if duration_s is not None and not duration_s > 0:
            raise UserError(f"--duration must be a positive number of seconds, got {duration_s}")
        self.url = url
        self.network = network
        self.names = instruments
        self.out_dir = out_dir
        self.duration_s = duration_s
        self.rotate_ns = int(rotate_s * 1e9)
        self.flush_s = flush_s
        self.stats = RecordStats()
        self._instruments: dict[str, _Instrument] = {}
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> RecordStats:
        from websockets.asyncio.client import connect  # noqa: PLC0415
        from websockets.exceptions import WebSocketException  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            async with connect(self.url, max_size=2**24) as ws:
                await self._setup(ws)
                flusher = asyncio.create_task(self._flush_loop())
                reader = asyncio.create_task(self._read(ws))
                stopper = asyncio.create_task(self._stop.wait())
                timeout = self.duration_s
                done, _ = await asyncio.wait(
                    {reader, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                flusher.cancel()
                stopper.cancel()
                reader.cancel()
                if reader in done and reader.exception() is not None:
                    raise reader.exception()  # type: ignore[misc]
        except (OSError, WebSocketException) as exc:
            raise UserError(f"cannot record from {self.url}: {exc}") from None
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            self._close_all()
        return self.stats

    async def _request(self, ws: Any, rid: int, method: str, params: dict[str, Any]) -> Any:
        await ws.send(msgspec.json.encode({"method": method, "id": rid, "params": params}))
        while True:
            msg = _json.decode(await ws.recv())
            if msg.get("id") == rid:
                if "error" in msg:
                    raise UserError(f"{method}: {msg['error'].get('message', msg['error'])}")
                return msg.get("result")

    async def _setup(self, ws: Any) -> None:
        listed = await self._request(ws, 1, "public/instruments", {})
        by_name = {i.get("instrument_name"): i for i in listed or []}
        missing = [n for n in self.names if n not in by_name]
        if missing:
            raise UserError(f"not listed by {self.url}: {', '.join(missing)}")
        for name in self.names:
            inst = by_name[name]
            tick, lot = inst.get("tick_size"), inst.get("volume_tick_size")
            if not (isinstance(tick, int | float) and isinstance(lot, int | float)):
                raise UserError(f"{name}: the venue gives no tick or volume tick size")
            self._instruments[name] = _Instrument(name, float(tick), float(lot))
        channels = [c for n in self.names for c in (f"book.{n}.none.all.raw", f"ticker.{n}.raw")]
        await self._request(ws, 2, "public/subscribe", {"channels": channels})

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            now = time.time_ns()
            msg = _json.decode(raw)
            channel = msg.get("channel_name")
            if not isinstance(channel, str):
                continue
            self.stats.messages += 1
            kind, _, rest = channel.partition(".")
            name = rest.split(".")[0]
            inst = self._instruments.get(name)
            if inst is None:
                continue
            writer = self._writer(inst, now)
            body = msg.get("notification") or {}
            if kind == "book":
                self._book(inst, writer, body, bool(msg.get("snapshot")), now)
            elif kind == "ticker":
                exch = _ms(body.get("time"), now)
                writer.add(
                    "ticker",
                    (now, exch, _f(body.get("mark_price")), _f(body.get("index")),
                     _f(body.get("funding_rate"))),
                )  # fmt: skip

    def _book(
        self, inst: _Instrument, writer: RecordingWriter, body: dict[str, Any], snapshot: bool,
        now: int,
    ) -> None:  # fmt: skip
        exch = _ms(body.get("time"), now)
        if snapshot:
            inst.snapshot_seen = True
            inst.bids.clear()
            inst.asks.clear()
        if not inst.snapshot_seen:
            return
        if snapshot or body.get("bid_changes") or body.get("ask_changes"):
            prev = inst.update_id  # one update id per message that changes the book
            inst.update_id += 1
        else:
            prev = inst.update_id - 1
        uid = inst.update_id
        flag = 1 if snapshot else 0
        for side, key, book in (
            ("bid", "bid_changes", inst.bids),
            ("ask", "ask_changes", inst.asks),
        ):
            for level in body.get(key) or ():
                price, qty = float(level[0]), float(level[1])
                if qty > 0.0:
                    book[price] = qty
                else:
                    book.pop(price, None)
                writer.add("depth", (now, exch, prev + 1, uid, prev, flag, side, price, qty))
        for trade in body.get("trades") or ():
            inst.trades += 1
            writer.add(
                "trades",
                (now, _ms(trade[3], now), f"{inst.name}-{inst.trades}", float(trade[0]),
                 float(trade[1]), str(trade[2])),
            )  # fmt: skip

    def _writer(self, inst: _Instrument, now: int) -> RecordingWriter:
        w = inst.writer
        if w is not None and now - inst.started_ns < self.rotate_ns:
            return w
        if w is not None:
            w.close()
            self.stats.rows += w.rows_written
        stamp = dt.datetime.fromtimestamp(now / 1e9, tz=dt.UTC).strftime("%Y-%m-%d_%H%M%S")
        window = f"thalex-{self.network}_{inst.name}_{stamp}"
        writer = RecordingWriter(self.out_dir / window, tick=inst.tick, lot=inst.lot)
        if w is not None and inst.snapshot_seen:  # a new window starts from the whole book
            inst.update_id += 1
            uid, ms = inst.update_id, now // 1_000_000
            for side, book in (("bid", inst.bids), ("ask", inst.asks)):
                for price, qty in book.items():
                    writer.add("depth", (now, ms, uid, uid, uid - 1, 1, side, price, qty))
        inst.writer = writer
        inst.started_ns = now
        self.stats.windows.append(window)
        return writer

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            for inst in self._instruments.values():
                if inst.writer is not None:
                    inst.writer.flush()

    def _close_all(self) -> None:
        for inst in self._instruments.values():
            if inst.writer is not None:
                inst.writer.close()
                self.stats.rows += inst.writer.rows_written
                inst.writer = None


def _ms(seconds: Any, now_ns: int) -> int:
    if isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0:
        return int(seconds * 1000)
    return now_ns // 1_000_000


def _f(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan
