"""Reading one run out of the journal into column arrays: the report's only I/O.

One query per table, filtered on ``run_id`` (the primary key's first column, so SQLite and
PostgreSQL both read the run's rows by index) and sorted by time. Everything after this is
pure arithmetic on the arrays (``metrics.py``), so the same code serves live runs and
backtests journaled with the same schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from thalex_mm.errors import UserError
from thalex_mm.journal.query import Reader, RunInfo, list_runs

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Fills:
    ts: I64
    side: F64
    price: F64
    amount: F64
    fee: F64
    fair: F64  # NaN where the journal has none (older journals)
    position_after: F64  # NaN where unknown
    maker: NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Quotes:
    ts: I64
    mid: F64
    sigma: F64
    a: F64
    k: F64
    ask_a: F64  # NaN in older journals
    ask_k: F64
    reservation: F64
    spread: F64
    bids: list[list[list[float]]]  # per decision, [[price, amount], ...] best first
    asks: list[list[list[float]]]


@dataclass(frozen=True, slots=True)
class Market:
    ts: I64
    bid: F64  # NaN when that side of the book was empty
    ask: F64
    mark: F64  # NaN when unknown


@dataclass(frozen=True, slots=True)
class Updates:
    ts: I64
    order_id: list[str]
    client_order_id: I64  # -1 when none
    side: F64
    price: F64  # NaN when none
    status: list[str]
    reply: NDArray[np.bool_]  # the venue's answer to one of our actions (not the feed)
    delete_reason: list[str]


@dataclass(frozen=True, slots=True)
class Actions:
    ts: I64
    action: list[str]
    client_order_id: I64  # -1 when none


@dataclass(frozen=True, slots=True)
class RiskEventRow:
    ts: int
    instrument: str
    kind: str
    state: str
    detail: str


@dataclass(slots=True)
class InstrumentData:
    name: str
    fills: Fills
    quotes: Quotes
    market: Market
    updates: Updates
    actions: Actions
    max_position: float | None = None


@dataclass(slots=True)
class RunData:
    info: RunInfo
    start_ns: int
    stop_ns: int  # the run's stop, else its last record (a run that crashed has no stop)
    instruments: dict[str, InstrumentData] = field(default_factory=dict)
    risk: list[RiskEventRow] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def _f(values: list[Any]) -> F64:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _i(values: list[Any]) -> I64:
    return np.array([-1 if v is None else int(v) for v in values], dtype=np.int64)


def _by_instrument(rows: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        out.setdefault(str(row[0]), []).append(row[1:])
    return out


def _cols(rows: list[tuple[Any, ...]], n: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(n)]


def _ladder(value: Any) -> list[list[float]]:
    if value is None:
        return []
    if isinstance(value, str):
        decoded: list[list[float]] = msgspec.json.decode(value)
        return decoded
    return list(value)


def select_runs(reader: Reader, run_ids: list[str] | None, *, count: int = 1) -> list[RunInfo]:
    """The runs asked for (in that order), else the latest ``count``; unknown ids are a
    user error."""
    runs = list_runs(reader)
    if not runs:
        raise UserError(f"no runs in the journal {reader.url!r}")
    if not run_ids:
        return runs[-count:]
    known = {r.run_id: r for r in runs}
    missing = [r for r in run_ids if r not in known]
    if missing:
        raise UserError(
            f"no run {missing[0]!r} in the journal (see `thalex-mm journal runs --journal ...`)"
        )
    return [known[r] for r in run_ids]


def load_run(reader: Reader, info: RunInfo) -> RunData:
    """Every table of one run, as arrays per instrument, sorted by time."""
    rid = [info.run_id]
    order = "ORDER BY ts_ns, seq"
    fills = _by_instrument(
        reader.rows(
            "SELECT instrument, ts_ns, side, price, amount, fee, fair, position_after, "
            f"maker_taker FROM fills WHERE run_id = ? {order}",
            rid,
        )
    )
    quotes = _by_instrument(
        reader.rows(
            "SELECT instrument, ts_ns, mid, sigma, a, k, ask_a, ask_k, reservation, spread, "
            f"bids, asks FROM quotes WHERE run_id = ? {order}",
            rid,
        )
    )
    market = _by_instrument(
        reader.rows(
            f"SELECT instrument, ts_ns, best_bid, best_ask, mark FROM market WHERE run_id = ? "
            f"{order}",
            rid,
        )
    )
    updates = _by_instrument(
        reader.rows(
            "SELECT instrument, ts_ns, order_id, client_order_id, side, price, status, "
            f"change_reason, delete_reason FROM order_updates WHERE run_id = ? {order}",
            rid,
        )
    )
    actions = _by_instrument(
        reader.rows(
            "SELECT instrument, ts_ns, action, client_order_id FROM orders WHERE run_id = ? "
            f"{order}",
            rid,
        )
    )
    risk = [
        RiskEventRow(int(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), str(r[4] or ""))
        for r in reader.rows(
            f"SELECT ts_ns, instrument, kind, state, detail FROM risk_events WHERE run_id = ? "
            f"{order}",
            rid,
        )
    ]
    config_rows = reader.rows("SELECT config FROM runs WHERE run_id = ?", rid)
    config: dict[str, Any] = {}
    if config_rows and config_rows[0][0]:
        raw = config_rows[0][0]
        config = raw if isinstance(raw, dict) else json.loads(raw)

    names = sorted((set(fills) | set(quotes) | set(market) | set(updates) | set(actions)) - {""})
    run = RunData(info=info, start_ns=info.started_ns, stop_ns=info.started_ns, config=config)
    run.risk = risk
    last = [info.started_ns] + [e.ts for e in risk]
    limits = _position_limits(config)
    for name in names:
        fc = _cols(fills.get(name, []), 8)
        qc = _cols(quotes.get(name, []), 11)
        mc = _cols(market.get(name, []), 4)
        uc = _cols(updates.get(name, []), 8)
        ac = _cols(actions.get(name, []), 3)
        data = InstrumentData(
            name=name,
            fills=Fills(
                ts=_i(fc[0]), side=_f(fc[1]), price=_f(fc[2]), amount=_f(fc[3]), fee=_f(fc[4]),
                fair=_f(fc[5]), position_after=_f(fc[6]),
                maker=np.array([m == "maker" for m in fc[7]], dtype=np.bool_),
            ),
            quotes=Quotes(
                ts=_i(qc[0]), mid=_f(qc[1]), sigma=_f(qc[2]), a=_f(qc[3]), k=_f(qc[4]),
                ask_a=_f(qc[5]), ask_k=_f(qc[6]), reservation=_f(qc[7]), spread=_f(qc[8]),
                bids=[_ladder(v) for v in qc[9]], asks=[_ladder(v) for v in qc[10]],
            ),
            market=Market(ts=_i(mc[0]), bid=_f(mc[1]), ask=_f(mc[2]), mark=_f(mc[3])),
            updates=Updates(
                ts=_i(uc[0]), order_id=[str(v) for v in uc[1]], client_order_id=_i(uc[2]),
                side=_f(uc[3]), price=_f(uc[4]), status=[str(v) for v in uc[5]],
                reply=np.array([v == "reply" for v in uc[6]], dtype=np.bool_),
                delete_reason=[str(v or "") for v in uc[7]],
            ),
            actions=Actions(
                ts=_i(ac[0]), action=[str(v) for v in ac[1]], client_order_id=_i(ac[2])
            ),
            max_position=limits.get(name),
        )  # fmt: skip
        run.instruments[name] = data
        for ts in (data.fills.ts, data.quotes.ts, data.market.ts, data.updates.ts):
            if len(ts):
                last.append(int(ts.max()))
    run.stop_ns = info.stopped_ns if info.stopped_ns is not None else max(last)
    return run


def _position_limits(config: dict[str, Any]) -> dict[str, float]:
    """``risk.max_position`` per instrument from the run's (redacted) config, where set."""
    limits: dict[str, float] = {}
    for inst in config.get("instruments", []) or []:
        if not isinstance(inst, dict):
            continue
        risk = inst.get("risk") or {}
        limit = risk.get("max_position") if isinstance(risk, dict) else None
        if inst.get("name") and isinstance(limit, int | float) and limit > 0:
            limits[str(inst["name"])] = float(limit)
    return limits
