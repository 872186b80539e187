"""Recorded market data for backtests: windows by name, their instrument specs, and loading.

A window is three tables (see the shared data's README): trades, best bid/offer and L2 depth
(a snapshot, then every diff), each ``<window>_<table>.csv.gz`` or, in the native columnar
format that ``convert`` and the recorder write, ``<window>_<table>.parquet`` with the same
columns (``.arrows``: the stream of a recording that was killed before it could finish; a
recording also leaves ``<window>_meta.json`` with its tick and lot). A window is named
(``binance-usdm_BTCUSDT_2024-08-08_2354-2400``, looked up in the data folder) or given as
a path prefix. Tables are read with pyarrow into numpy columns; a missing file or column is
one ``UserError`` line.

Specs: tick, lot and contract size per venue and symbol (the coin-M windows trade contracts
of 100 / 10 USD: their quantities are contracts, not coins).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from thalex_mm.domain import InstrumentKind, InstrumentSpec
from thalex_mm.errors import UserError
from thalex_mm.exchange.market.replay import DATA_DIR

__all__ = ["DATA_DIR", "MARKETS", "Market", "Window", "convert", "find_window", "read_table"]

TABLES = ("trades", "depth")
COLUMNS = {
    "trades": ("local_ts_ns", "exch_ts_ms", "trade_id", "price", "qty", "aggressor_side"),
    "depth": (
        "local_ts_ns", "exch_ts_ms", "first_update_id", "final_update_id",
        "prev_final_update_id", "is_snapshot", "side", "price", "qty",
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Market:
    """How a venue/symbol trades: what one unit of quantity is, and its grid."""

    tick: float
    lot: float
    contract_usd: float = 0.0  # > 0: quantities are contracts of this many USD (coin-M)


# per "<venue>_<symbol>": the instrument grid of the recorded venue
MARKETS: dict[str, Market] = {
    "binance-usdm_BTCUSDT": Market(0.1, 0.001),
    "binance-usdm_ETHUSDT": Market(0.01, 0.001),
    "binance-coinm_BTCUSD_PERP": Market(0.1, 1.0, 100.0),
    "binance-coinm_ETHUSD_PERP": Market(0.01, 1.0, 10.0),
    "binance-spot_BTCUSDT": Market(0.01, 0.00001),
    "binance-spot_ETHUSDT": Market(0.01, 0.0001),
}


@dataclass(frozen=True, slots=True)
class Window:
    """One recorded window: its files, market and the spec the core trades it with."""

    name: str
    prefix: Path  # files are prefix + "_" + table + suffix
    suffix: str  # ".csv.gz" or ".parquet"
    market: Market

    def path(self, table: str) -> Path:
        return self.prefix.parent / f"{self.prefix.name}_{table}{self.suffix}"

    def spec(self, instrument: str) -> InstrumentSpec:
        m = self.market
        return InstrumentSpec(
            instrument, InstrumentKind.PERPETUAL, self.name.split("_")[1], m.tick, m.lot, m.lot
        )


def _market(prefix: Path) -> Market:
    """The grid from ``<prefix>_meta.json`` (a recording says its own), else by name."""
    meta = prefix.parent / f"{prefix.name}_meta.json"
    if meta.is_file():
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            return Market(float(data["tick"]), float(data["lot"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{meta}: not a recording's meta file ({exc})") from None
    return _market_of(prefix.name)


def _market_of(name: str) -> Market:
    parts = name.split("_")
    for n in (3, 2):
        key = "_".join(parts[:n])
        if key in MARKETS:
            return MARKETS[key]
    known = ", ".join(sorted(MARKETS))
    raise UserError(f"no instrument grid known for window {name!r} (known: {known})")


def find_window(name_or_path: str, data_dir: Path | None = None) -> Window:
    """The window named (in the data folder) or the path prefix given; UserError if absent."""
    base = data_dir or DATA_DIR
    candidate = Path(name_or_path)
    for table_suffix in ("_trades.csv.gz", "_depth.csv.gz", "_trades.parquet", "_depth.parquet"):
        if candidate.name.endswith(table_suffix):
            candidate = candidate.with_name(candidate.name[: -len(table_suffix)])
    for table_suffix in ("_trades.arrows", "_depth.arrows"):
        if candidate.name.endswith(table_suffix):
            candidate = candidate.with_name(candidate.name[: -len(table_suffix)])
    prefixes = [candidate] if candidate.parent != Path() else [base / candidate, candidate]
    for prefix in prefixes:
        for suffix in (".parquet", ".arrows", ".csv.gz"):
            if all((prefix.parent / f"{prefix.name}_{t}{suffix}").is_file() for t in TABLES):
                return Window(prefix.name, prefix, suffix, _market(prefix))
    listed = sorted(
        p.name[: -len("_trades.csv.gz")] for p in base.glob("*_trades.csv.gz")
    ) if base.is_dir() else []  # fmt: skip
    hint = f"; windows in {base}: {', '.join(listed)}" if listed else f" (no data in {base})"
    raise UserError(f"unknown window {name_or_path!r}: needs its _trades and _depth files{hint}")


Columns = dict[str, npt.NDArray[np.generic]]


def read_table(window: Window, table: str) -> Columns:
    """One table as numpy columns (strings as object arrays); UserError for bad files."""
    path = window.path(table)
    import pyarrow as pa  # noqa: PLC0415

    try:
        if window.suffix == ".parquet":
            import pyarrow.parquet as pq  # noqa: PLC0415

            data = pq.read_table(path)
        elif window.suffix == ".arrows":  # a recording that was not stopped cleanly
            from thalex_mm.backtest.recording import read_stream  # noqa: PLC0415

            data = read_stream(path)
        else:
            import pyarrow.csv as pcsv  # noqa: PLC0415

            data = pcsv.read_csv(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    missing = [c for c in COLUMNS[table] if c not in data.column_names]
    if missing:
        raise UserError(f"{path}: missing columns {', '.join(missing)}")
    out: Columns = {}
    for c in COLUMNS[table]:
        column = data.column(c)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            out[c] = np.asarray(column.to_pylist(), dtype=object)
        else:
            out[c] = column.to_numpy(zero_copy_only=False)
    return out


def convert(window: Window, out_dir: Path) -> list[Path]:
    """Write the window's tables in the native format (Parquet) under ``out_dir``."""
    import pyarrow.csv as pcsv  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES:
        data = pcsv.read_csv(window.path(table)) if window.suffix == ".csv.gz" else None
        if data is None:
            data = pq.read_table(window.path(table))
        target = out_dir / f"{window.name}_{table}.parquet"
        pq.write_table(data, target, compression="zstd")
        written.append(target)
    meta = window.prefix.parent / f"{window.name}_meta.json"
    if meta.is_file():  # a recording's own grid goes with it
        (out_dir / meta.name).write_text(meta.read_text(encoding="utf-8"), encoding="utf-8")
    return written
