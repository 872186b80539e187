"""The peer our backtester is checked against: hftbacktest 2.4.4 running the reference quoter
(docs/backtest.md) on a recorded window, printing fills, volume and PnL as JSON.

Run it with a Python that has hftbacktest (it needs numpy < 2.3, so it lives in its own venv:
``make hftbacktest-venv``); it imports nothing of thalex-mm. The window's depth goes in as
thalex-mm's replay applies it (the snapshot, then the diffs its update-id rules keep), local
time = exchange time (no feed latency, as our default), trades before the depth message of
the same millisecond.

    .venv-hftbacktest/bin/python tests/backtest/peer_hftbacktest.py PREFIX [--queue power3]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import time

import numpy as np
from hftbacktest import (
    BUY_EVENT,
    DEPTH_EVENT,
    EXCH_EVENT,
    GTX,
    LIMIT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
    BacktestAsset,
    HashMapMarketDepthBacktest,
)
from hftbacktest.types import event_dtype
from numba import njit

MS = 1_000_000


def load_events(prefix: str) -> np.ndarray:
    rows: list[tuple[int, int, int, float, float]] = []  # (exch ns, order, ev, px, qty)
    with gzip.open(f"{prefix}_depth.csv.gz", "rt") as f:
        reader = csv.DictReader(f)
        messages: list[list[dict[str, str]]] = []
        for row in reader:
            if messages and messages[-1][0]["final_update_id"] == row["final_update_id"]:
                messages[-1].append(row)
            else:
                messages.append([row])
    last = -1
    started = False
    for msg in messages:
        head = msg[0]
        final = int(head["final_update_id"])
        if head["is_snapshot"] == "1":
            started, last = True, final
        elif not started or final < last:
            continue
        else:
            last = final
        t = int(head["exch_ts_ms"]) * MS
        for r in msg:
            side = BUY_EVENT if r["side"] == "bid" else SELL_EVENT
            rows.append((t, 1, DEPTH_EVENT | EXCH_EVENT | LOCAL_EVENT | side,
                         float(r["price"]), float(r["qty"])))  # fmt: skip
    first_book = min(t for t, *_ in rows)
    with gzip.open(f"{prefix}_trades.csv.gz", "rt") as f:
        for r in csv.DictReader(f):
            t = int(r["exch_ts_ms"]) * MS
            if t < first_book:
                continue
            side = BUY_EVENT if r["aggressor_side"] == "buy" else SELL_EVENT
            rows.append((t, 0, TRADE_EVENT | EXCH_EVENT | LOCAL_EVENT | side,
                         float(r["price"]), float(r["qty"])))  # fmt: skip
    rows.sort(key=lambda x: (x[0], x[1]))
    data = np.zeros(len(rows), dtype=event_dtype)
    for i, (t, _, evf, px, qty) in enumerate(rows):
        data[i]["ev"] = evf
        data[i]["exch_ts"] = t
        data[i]["local_ts"] = t
        data[i]["px"] = px
        data[i]["qty"] = qty
    return data


@njit
def reference_quoter(hbt, stats):  # type: ignore[no-untyped-def]
    tick = 0.1
    size = 0.01
    next_id = 1
    while hbt.elapse(100_000_000) == 0:
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        bb, ba = depth.best_bid_tick, depth.best_ask_tick
        if not (bb > 0 and ba > 0 and bb < ba):
            continue
        position = hbt.position(0)
        skew = round(position / size)
        mid = (bb + ba) / 2.0
        bid = min(math.floor(mid - 5 - skew), bb)
        ask = max(math.ceil(mid + 5 - skew), ba)
        has_bid = False
        has_ask = False
        values = hbt.orders(0).values()
        while values.has_next():
            o = values.get()
            # an order at the target keeps its place, even one still on its way (not yet
            # cancellable); any other is cancelled once it can be
            if o.side == 1:
                if o.price_tick == bid:
                    has_bid = True
                elif o.cancellable:
                    hbt.cancel(0, o.order_id, False)
            elif o.price_tick == ask:
                has_ask = True
            elif o.cancellable:
                hbt.cancel(0, o.order_id, False)
        if not has_bid and position + size <= 0.1 + 1e-9:
            hbt.submit_buy_order(0, next_id, bid * tick, size, GTX, LIMIT, False)
            next_id += 1
        if not has_ask and position - size >= -0.1 - 1e-9:
            hbt.submit_sell_order(0, next_id, ask * tick, size, GTX, LIMIT, False)
            next_id += 1
        stats[0] = (bb + ba) / 2.0 * tick
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("prefix")
    parser.add_argument("--queue", choices=("risk-averse", "power3"), default="risk-averse")
    parser.add_argument("--warm", action="store_true",
                        help="run once first: numba compiles untimed")  # fmt: skip
    args = parser.parse_args()
    data = load_events(args.prefix)
    if args.warm:
        _run(data, args.queue)
    out = _run(data, args.queue)
    print(json.dumps(out))


def _run(data: np.ndarray, queue: str) -> dict[str, float | int]:
    asset = (
        BacktestAsset()
        .data([data])
        .linear_asset(1.0)
        .constant_order_latency(10 * MS, 10 * MS)
        .no_partial_fill_exchange()
        .trading_value_fee_model(-0.00005, 0.0004)
        .tick_size(0.1)
        .lot_size(0.001)
    )
    asset = (
        asset.risk_adverse_queue_model()
        if queue == "risk-averse"
        else asset.power_prob_queue_model(3.0)
    )
    hbt = HashMapMarketDepthBacktest([asset])
    stats = np.zeros(1)
    started = time.perf_counter()
    reference_quoter(hbt, stats)
    wall = time.perf_counter() - started
    state = hbt.state_values(0)
    mid = stats[0]
    pnl_before_fees = state.balance + state.position * mid
    out = {
        "fills": int(state.num_trades),
        "volume": float(state.trading_volume),
        "pnl": float(pnl_before_fees - state.fee),
        "pnl_before_fees": float(pnl_before_fees),
        "fees": float(state.fee),
        "final_position": float(state.position),
        "events": int(data.size),
        "wall_s": wall,
        "events_per_s": data.size / wall,
    }
    hbt.close()
    return out


if __name__ == "__main__":
    main()
