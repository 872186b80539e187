"""Replay a recorded window (see ``default_data_dir``) as the market instead of the simulation.

The index of the instrument's underlying follows the recorded mid (times ``price_scale``), the
background maker quotes around it as in the synthetic market, and every recorded trade becomes
an IOC taker order of the recorded size (times ``qty_scale``) and side, limited to the recorded
price widened by ``slippage_bps``, so it fills against whatever rests in the engine's book —
including the user's quotes.

Files are streamed (gzip + csv) and merged by the recorder's receive time (``local_ts_ns``),
never loaded whole. Recorded time is shifted so the first record lands at the `start` time.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from thalex_mm.domain import InstrumentKind, Side
from thalex_mm.exchange.engine import Collar, Event, MatchingEngine, TimeInForce
from thalex_mm.exchange.market.config import MarketConfig
from thalex_mm.exchange.market.index import future_mark
from thalex_mm.exchange.market.participants import BackgroundMaker
from thalex_mm.exchange.market.synthetic import MAKER_SESSION, TAKER_SESSION


def default_data_dir() -> Path:
    """Where recorded windows live: ``$THALEX_MM_MARKET_DATA`` if set, else the ``shared/``
    folder beside the repository checkout (``../shared/data/market``)."""
    configured = os.environ.get("THALEX_MM_MARKET_DATA")
    if configured:
        return Path(configured)
    repo_root = Path(__file__).resolve().parents[4]
    return repo_root.parent / "shared" / "data" / "market"


DATA_DIR = default_data_dir()
_NS = 1_000_000_000
_BBO, _TRADE = 0, 1


@dataclass(frozen=True, slots=True)
class RecordedQuote:
    ts_ns: int
    bid: float
    ask: float


@dataclass(frozen=True, slots=True)
class RecordedTrade:
    ts_ns: int
    price: float
    qty: float
    side: Side


def window_paths(window: str, data_dir: Path = DATA_DIR) -> tuple[Path, Path]:
    """(trades, bbo) files of a window such as 'binance-usdm_BTCUSDT_2024-08-08_2354-2400'."""
    trades = data_dir / f"{window}_trades.csv.gz"
    bbo = data_dir / f"{window}_bbo.csv.gz"
    for path in (trades, bbo):
        if not path.is_file():
            raise ValueError(f"recorded window {window!r}: missing file {path}")
    return trades, bbo


def read_quotes(path: Path) -> Iterator[RecordedQuote]:
    """Stream top-of-book rows; rows with an empty or crossed side are skipped."""
    with gzip.open(path, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                bid, ask = float(row["bid_px"]), float(row["ask_px"])
                ts = int(row["local_ts_ns"])
            except (KeyError, ValueError):
                continue
            if 0 < bid < ask:
                yield RecordedQuote(ts, bid, ask)


def read_trades(path: Path) -> Iterator[RecordedTrade]:
    """Stream trade rows (aggressor side decides the taker's direction)."""
    with gzip.open(path, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                ts = int(row["local_ts_ns"])
                price, qty = float(row["price"]), float(row["qty"])
                side = Side.from_wire(row["aggressor_side"])
            except (KeyError, ValueError):
                continue
            if price > 0 and qty > 0:
                yield RecordedTrade(ts, price, qty, side)


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """Which window drives which instrument, and how recorded units map onto it."""

    window: str
    instrument_name: str = "BTC-PERPETUAL"
    price_scale: float = 1.0
    qty_scale: float = 1.0
    slippage_bps: float = 10.0
    data_dir: Path = DATA_DIR
    background: MarketConfig = field(default_factory=MarketConfig)

    def __post_init__(self) -> None:
        for name in ("price_scale", "qty_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"ReplayConfig.{name} must be > 0, got {value!r}")
        if not (math.isfinite(self.slippage_bps) and self.slippage_bps >= 0):
            raise ValueError(f"ReplayConfig.slippage_bps must be ≥ 0, got {self.slippage_bps!r}")


class ReplayMarket:
    """Feeds a recorded window into the engine as `step(now_ns)` advances."""

    def __init__(self, engine: MatchingEngine, config: ReplayConfig) -> None:
        inst = engine.instrument(config.instrument_name)
        if inst is None:
            raise ValueError(f"ReplayConfig.instrument_name {config.instrument_name!r} not listed")
        self.engine = engine
        self.config = config
        self.spec = inst.spec
        trades_path, bbo_path = window_paths(config.window, config.data_dir)
        self._stream: Iterator[tuple[int, int, RecordedQuote | RecordedTrade]] = heapq.merge(
            ((q.ts_ns, _BBO, q) for q in read_quotes(bbo_path)),
            ((t.ts_ns, _TRADE, t) for t in read_trades(trades_path)),
            key=lambda item: (item[0], item[1]),
        )
        self._next = next(self._stream, None)
        self._offset_ns: int | None = None
        self._fair: float | None = None
        self._quote_due = False
        engine.add_account(MAKER_SESSION.account, 1e12)
        engine.add_account(TAKER_SESSION.account, 1e12)
        self.maker = BackgroundMaker(engine, MAKER_SESSION, config.background)
        self.finished = self._next is None

    @property
    def fair(self) -> float | None:
        return self._fair

    def _publish(self, now_ns: int, mid: float) -> list[Event]:
        spec = self.spec
        self._fair = mid
        events = self.engine.set_index(now_ns, spec.underlying, mid)
        now_s = now_ns / _NS
        for inst in self.engine.instruments():
            if inst.spec.underlying != spec.underlying:
                continue
            mark = mid
            if inst.spec.kind is InstrumentKind.FUTURE and inst.spec.expiry_ts is not None:
                basis = self.config.background.future_basis_per_year
                mark = future_mark(mid, basis, inst.spec.expiry_ts, now_s)
            events.extend(self.engine.set_mark(now_ns, inst.name, mark))
        return events

    def _take(self, now_ns: int, trade: RecordedTrade) -> list[Event]:
        spec, cfg = self.spec, self.config
        lots = spec.amount_to_lots_floor(trade.qty * cfg.qty_scale)
        if lots < spec.min_lots:
            return []
        price = trade.price * cfg.price_scale
        widen = cfg.slippage_bps * 1e-4
        if trade.side is Side.BUY:
            limit = spec.price_to_ticks_floor(price * (1.0 + widen))
        else:
            limit = spec.price_to_ticks_ceil(price * (1.0 - widen))
        if limit <= 0:
            return []
        out = self.engine.insert(
            now_ns, TAKER_SESSION, instrument_name=spec.name, direction=trade.side,
            amount=spec.lots_to_amount(lots), price=spec.ticks_to_price(limit),
            time_in_force=TimeInForce.IOC, collar=Collar.CLAMP,
        )  # fmt: skip
        return out.events

    def _requote(self, now_ns: int) -> list[Event]:
        self._quote_due = False
        if self._fair is None:
            return []
        return self.maker.requote(now_ns, {self.spec.name: self._fair})

    def step(self, now_ns: int) -> list[Event]:
        """Apply every record up to ``now_ns`` (the first call anchors recorded time)."""
        events: list[Event] = []
        while self._next is not None:
            ts, _kind, record = self._next
            if self._offset_ns is None:
                self._offset_ns = now_ns - ts
            at = ts + self._offset_ns
            if at > now_ns:
                break
            if isinstance(record, RecordedQuote):
                mid = 0.5 * (record.bid + record.ask) * self.config.price_scale
                events.extend(self._publish(at, mid))
                self._quote_due = True
            else:
                if self._quote_due:
                    events.extend(self._requote(at))
                events.extend(self._take(at, record))
            self._next = next(self._stream, None)
        if self._quote_due:
            events.extend(self._requote(now_ns))
        self.finished = self._next is None
        return events
