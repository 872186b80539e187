"""A day of journal renders in seconds into a page of a few MB, and every fill still counts in
the markouts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from thalex_mm.cli.main import main
from thalex_mm.journal.query import Reader
from thalex_mm.journal.schema import TABLES
from thalex_mm.journal.sinks.base import make_sink
from thalex_mm.report.load import load_run, select_runs
from thalex_mm.report.metrics import build

NS = 1_000_000_000
T0 = 1_800_000_000 * NS
DAY_S = 86_400


def _row(table: str, **values: Any) -> tuple[Any, ...]:
    return tuple(values.get(c.name) for c in TABLES[table].columns)


def _day_rows(fills: int) -> dict[str, list[tuple[Any, ...]]]:
    rng = np.random.default_rng(5)
    rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
    seq = iter(range(10**9))
    common = {"run_id": "day", "strategy": "mm", "instrument": "BTC-PERPETUAL"}
    rows["runs"].append(_row("runs", run_id="day", seq=next(seq), ts_ns=T0, version="t",
                             venue="", account="", strategy="mm", host="", pid=0,
                             config="{}"))  # fmt: skip
    n_market = DAY_S * 10  # the default 100 ms market interval
    mts = T0 + np.arange(n_market, dtype=np.int64) * (NS // 10)
    marks = 80_000 + np.cumsum(rng.normal(0, 2.0, n_market))
    for ts, m in zip(mts.tolist(), marks.tolist(), strict=True):
        rows["market"].append(_row("market", **common, seq=next(seq), ts_ns=ts, best_bid=m - 5,
                                   best_bid_amount=1.0, best_ask=m + 5, best_ask_amount=1.0,
                                   mark=m, index_price=m))  # fmt: skip
    for ts, m in zip(mts[::10].tolist(), marks[::10].tolist(), strict=True):  # one a second
        ladder_b = json.dumps([[m - 10 - 2 * i, 0.001] for i in range(3)])
        ladder_a = json.dumps([[m + 10 + 2 * i, 0.001] for i in range(3)])
        rows["quotes"].append(_row("quotes", **common, seq=next(seq), ts_ns=ts + 1,
                                   model="glft", mid=m, sigma=5.0, a=1.0, k=0.05, q=0.0,
                                   gamma=1.0, reservation=m, spread=20.0, bids=ladder_b,
                                   asks=ladder_a))  # fmt: skip
    fts = np.sort(rng.integers(T0, T0 + DAY_S * NS, fills))
    pos = 0.0
    for i, ts in enumerate(fts.tolist()):
        side = 1 if rng.random() < 0.5 else -1
        m = float(marks[(ts - T0) // (NS // 10)])
        price = m - side * 10
        pos += side * 0.001
        oid = f"o{i}"
        rows["fills"].append(_row("fills", **common, seq=next(seq), ts_ns=ts, trade_id=f"t{i}",
                                  order_id=oid, client_order_id=i, side=side, price=price,
                                  amount=0.001, fee=0.008, maker_taker="maker",
                                  position_after=pos, fair=m))  # fmt: skip
        for status, dt in (("open", -NS // 2), ("filled", 0)):
            rows["order_updates"].append(
                _row("order_updates", **common, seq=next(seq), ts_ns=ts + dt, order_id=oid,
                     client_order_id=i, status=status, side=side, price=price, amount=0.001,
                     filled_amount=0.0, remaining_amount=0.001, change_reason="feed",
                     delete_reason="")
            )  # fmt: skip
        rows["orders"].append(_row("orders", **common, seq=next(seq), ts_ns=ts - NS // 2 - 1,
                                   action="insert", client_order_id=i, side=side, price=price,
                                   amount=0.001, post_only=1, levels="[]"))  # fmt: skip
    rows["run_stops"].append(_row("run_stops", run_id="day", seq=next(seq),
                                  ts_ns=T0 + DAY_S * NS, reason="done"))  # fmt: skip
    return rows


@pytest.mark.slow
def test_a_day_renders_in_seconds_below_a_few_mb(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'day.db'}"
    fills = 20_000
    sink = make_sink(url)
    sink.open()
    sink.write(_day_rows(fills), "day", 1, 0)
    sink.close()
    out = tmp_path / "day.html"
    started = time.perf_counter()
    assert main(["report", "--journal", url, "--out", str(out)]) == 0
    elapsed = time.perf_counter() - started
    assert elapsed < 60, elapsed  # ~10 s on the 2-core CI machine
    assert out.stat().st_size < 6_000_000
    with Reader(url) as reader:
        rep = build(load_run(reader, select_runs(reader, None)[0]))
    assert rep.headline.fills == fills
    # every fill is in the markouts (all horizons end inside the day but the last minute's)
    assert rep.markouts.markout["all"][0].n == fills
    last_minute = int(sum(rep.run.instruments["BTC-PERPETUAL"].fills.ts > T0 + (DAY_S - 60) * NS))
    assert rep.markouts.markout["all"][-1].n == fills - last_minute
    # each side's level-1 edge: 10 USD a unit by construction
    assert rep.markouts.markout["level 1"][0].mean == pytest.approx(10.0)
