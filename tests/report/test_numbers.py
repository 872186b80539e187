"""The report's numbers against values recomputed here, independently, from the journal's
CSV export (``thalex-mm journal export``) of a scripted run: plain loops over the rows, no
code shared with thalex_mm.report."""

from __future__ import annotations

import csv
import itertools
import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from thalex_mm.cli.main import main
from thalex_mm.journal.query import Reader
from thalex_mm.report.load import load_run, select_runs
from thalex_mm.report.metrics import RunReport, build

from .scenario import MAX_POSITION, write_scenario

NS = 1_000_000_000
HORIZONS = (0.0, 0.1, 1.0, 5.0, 30.0, 60.0)


def _report(url: str, run_id: str) -> RunReport:
    with Reader(url) as reader:
        return build(load_run(reader, select_runs(reader, [run_id])[0]))


def _export(url: str, out: Path, run_id: str) -> dict[str, list[dict[str, Any]]]:
    assert main(["journal", "export", "--journal", url, "--out", str(out), "--run", run_id]) == 0
    tables = {}
    for name in ("fills", "market", "orders", "order_updates", "quotes", "risk_events", "runs",
                 "run_stops"):  # fmt: skip
        with (out / f"{name}.csv").open() as fh:
            tables[name] = list(csv.DictReader(fh))
    return tables


class Independent:
    """The scripted run's numbers, from the exported rows."""

    def __init__(self, t: dict[str, list[dict[str, Any]]]) -> None:
        self.start = int(t["runs"][0]["ts_ns"])
        self.stop = int(t["run_stops"][0]["ts_ns"])
        self.fills = sorted(
            (
                int(r["ts_ns"]), int(r["side"]), float(r["price"]), float(r["amount"]),
                float(r["fee"]), float(r["fair"]), float(r["position_after"]),
            )
            for r in t["fills"]
        )  # fmt: skip
        self.marks = sorted((int(r["ts_ns"]), float(r["mark"])) for r in t["market"])
        self.t = t

    def mark_at(self, ts: int) -> float | None:
        value = None
        for when, mark in self.marks:  # a plain scan: the last mark at or before ts
            if when > ts:
                break
            value = mark
        return value

    def start_position(self) -> float:
        _, side, _, amount, _, _, after = self.fills[0]
        return after - side * amount

    def equity(self, ts: int) -> float:
        mark = self.mark_at(ts)
        q0 = self.start_position()
        value = q0 * ((mark if mark is not None else self.marks[0][1]) - self.marks[0][1])
        for when, side, price, amount, fee, _, _ in self.fills:
            if when <= ts:
                assert mark is not None
                value += side * amount * (mark - price) - fee
        return value

    def markouts(self, h: float, side: int | None = None) -> list[float]:
        last = self.marks[-1][0]
        out = []
        for when, s, price, _, _, fair, _ in self.fills:
            if side is not None and s != side:
                continue
            if h == 0:
                out.append(s * (fair - price))
                continue
            at = when + round(h * NS)
            if at > last:
                continue
            mark = self.mark_at(at)
            assert mark is not None
            out.append(s * (mark - price))
        return out

    def uptime_both(self) -> float:
        live: dict[str, int] = {}
        both = 0.0
        prev = self.start
        rows = sorted(self.t["order_updates"], key=lambda r: (int(r["ts_ns"]), int(r["seq"])))
        for r in rows:
            ts = int(r["ts_ns"])
            if 1 in live.values() and -1 in live.values():
                both += ts - prev
            prev = ts
            if r["status"] in ("open", "partially_filled"):
                live[r["order_id"]] = int(r["side"])
            else:
                live.pop(r["order_id"], None)
        if 1 in live.values() and -1 in live.values():
            both += self.stop - prev
        return both / (self.stop - self.start)


@pytest.fixture
def known(tmp_path: Path) -> tuple[RunReport, Independent]:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    write_scenario(url, "known", seed=7)
    return _report(url, "known"), Independent(_export(url, tmp_path / "csv", "known"))


def test_headline_matches_the_export(known: tuple[RunReport, Independent]) -> None:
    rep, ind = known
    h = rep.headline
    fills = ind.fills
    assert h.fills == len(fills) > 30
    assert h.volume == pytest.approx(sum(f[3] for f in fills))
    assert h.notional == pytest.approx(sum(f[2] * f[3] for f in fills))
    assert h.fees_paid == pytest.approx(sum(f[4] for f in fills if f[4] > 0))
    assert h.rebates == pytest.approx(-sum(f[4] for f in fills if f[4] < 0))
    assert h.rebates > 0
    final = ind.marks[-1][1]
    q0 = ind.start_position()
    assert q0 == pytest.approx(0.003)
    total = sum(s * a * (final - p) - fee for _, s, p, a, fee, _, _ in fills)
    total += q0 * (final - ind.marks[0][1])
    assert h.total_pnl == pytest.approx(total, abs=1e-9)
    assert h.edge == pytest.approx(sum(s * (f - p) * a for _, s, p, a, _, f, _ in fills))
    assert h.carried == pytest.approx(q0 * (final - ind.marks[0][1]))
    assert h.duration_s == pytest.approx((ind.stop - ind.start) / NS)
    assert h.pnl_per_hour == pytest.approx(total / (h.duration_s / 3600))
    assert h.return_bps == pytest.approx(total / h.notional * 1e4)
    assert h.funding is None


def test_sharpe_sortino_and_drawdown_match_the_export(
    known: tuple[RunReport, Independent],
) -> None:
    rep, ind = known
    r = rep.headline.ratios
    assert r.interval_s == 1  # 120 s: 120 one-second intervals, only 24 of five seconds
    grid = list(range(ind.start, ind.stop + 1, NS))
    eq = [ind.equity(ts) for ts in grid]
    d = [b - a for a, b in itertools.pairwise(eq)]
    assert r.intervals == len(d) == 120
    assert r.sharpe == pytest.approx(statistics.mean(d) / statistics.stdev(d))
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in d) / len(d))
    assert r.sortino == pytest.approx(statistics.mean(d) / down)
    assert r.sharpe_annual == pytest.approx(r.sharpe * math.sqrt(365 * 86400))
    times = sorted({ind.start, ind.stop} | {f[0] for f in ind.fills} | {m[0] for m in ind.marks})
    peak, worst = -math.inf, 0.0
    for ts in times:
        e = ind.equity(ts)
        peak = max(peak, e)
        worst = max(worst, peak - e)
    assert worst > 0
    assert rep.headline.max_drawdown == pytest.approx(worst)


def test_markouts_by_horizon_and_side_match_the_export(
    known: tuple[RunReport, Independent],
) -> None:
    rep, ind = known
    m = rep.markouts
    assert m.horizons_s == HORIZONS
    for key, side in (("all", None), ("buy", 1), ("sell", -1)):
        for hi, h in enumerate(HORIZONS):
            values = ind.markouts(h, side)
            stat = m.markout[key][hi]
            assert stat.n == len(values), (key, h)
            assert stat.mean == pytest.approx(statistics.mean(values)), (key, h)
            ci = 1.959963984540054 * statistics.stdev(values) / math.sqrt(len(values))
            assert stat.ci == pytest.approx(ci), (key, h)
            assert stat.toxic == pytest.approx(sum(v < 0 for v in values) / len(values))
            adverse = [v - z for v, z in zip(values, ind.markouts(0.0, side), strict=False)]
            assert m.adverse[key][hi].mean == pytest.approx(statistics.mean(adverse))
    # the 60 s horizon leaves out the fills of the last minute
    assert m.left_out[-1] == len(ind.fills) - len(ind.markouts(60.0)) > 0


def test_fills_are_placed_on_their_ladder_level(known: tuple[RunReport, Independent]) -> None:
    rep, ind = known
    quotes = sorted(
        (int(q["ts_ns"]), q["bids"], q["asks"]) for q in ind.t["quotes"]
    )  # JSON text, parsed below
    import json  # noqa: PLC0415

    counts: dict[str, int] = {}
    for ts, side, price, *_ in ind.fills:
        last = [q for q in quotes if q[0] <= ts][-1]
        ladder = json.loads(last[1] if side > 0 else last[2])
        level = min(range(len(ladder)), key=lambda i: abs(ladder[i][0] - price)) + 1
        key = f"{'bid' if side > 0 else 'ask'} {level}"
        counts[key] = counts.get(key, 0) + 1
    assert rep.quoting.fills_per_level == dict(sorted(counts.items()))
    assert {"bid 1", "bid 2", "ask 1", "ask 2"} <= set(counts)
    by_level = {k: v for k, v in rep.markouts.markout.items() if k.startswith("level")}
    assert sum(s[0].n for s in by_level.values()) == len(ind.fills)


def test_quoting_quality_matches_the_export(known: tuple[RunReport, Independent]) -> None:
    rep, ind = known
    q = rep.quoting
    assert q.uptime_both == pytest.approx(ind.uptime_both())
    assert 0.5 < q.uptime_both < 0.9  # one side dark ~0.5 s of every 2 s cycle
    minutes = ind.uptime_both() * (ind.stop - ind.start) / NS / 60
    for label, count in q.fills_per_level.items():
        assert q.fill_rate_per_min[label] == pytest.approx(count / minutes)
    actions: dict[str, int] = {}
    for r in ind.t["orders"]:
        actions[r["action"]] = actions.get(r["action"], 0) + 1
    assert q.actions == dict(sorted(actions.items()))
    assert q.actions_per_fill == pytest.approx(len(ind.t["orders"]) / len(ind.fills))
    guard = [r for r in ind.t["risk_events"] if r["kind"] == "guard_rejection"]
    venue = [r for r in ind.t["risk_events"] if r["detail"].startswith("rejected (code 1,")]
    assert len(guard) == len(venue) == 2
    assert q.rejects == {  # grouped by cause: the order ids are left out
        "guard_rejection: price outside the band": len(guard),
        "order_anomaly: rejected (code 1)": len(venue),
    }
    # distance of level 1 from fair: mean over decisions of fair − best bid
    import json  # noqa: PLC0415

    dist = []
    for r in ind.t["quotes"]:
        mark = ind.mark_at(int(r["ts_ns"]))
        if mark is not None:
            dist.append(mark - json.loads(r["bids"])[0][0])
    assert q.distance["bid"][0] == pytest.approx(statistics.mean(dist))


def test_inventory_risk_states_and_latency_match_the_export(
    known: tuple[RunReport, Independent],
) -> None:
    rep, ind = known
    inv = rep.inventory[0]
    assert inv.limit == MAX_POSITION
    held: dict[float, float] = {}
    pos, prev = ind.start_position(), ind.start
    for ts, side, _, amount, *_ in ind.fills:
        held[round(pos, 9)] = held.get(round(pos, 9), 0.0) + (ts - prev) / NS
        pos, prev = pos + side * amount, ts
    held[round(pos, 9)] = held.get(round(pos, 9), 0.0) + (ind.stop - prev) / NS
    got = {round(float(p), 9): float(s) for p, s in zip(inv.positions, inv.seconds, strict=True)}
    assert got == pytest.approx(held)
    assert sum(inv.seconds) == pytest.approx((ind.stop - ind.start) / NS)
    at_limit = sum(s for p, s in held.items() if abs(p) >= MAX_POSITION * (1 - 1e-9))
    assert inv.at_limit_s == pytest.approx(at_limit)
    assert rep.risk.seconds == pytest.approx({"ACTIVE": 110.0, "REDUCING": 10.0})
    assert [c[2] for c in rep.risk.changes] == ["REDUCING", "ACTIVE"]
    # action -> reply: every insert's reply comes 1-3 ms later (scripted), amends 2 ms
    replies: dict[str, list[int]] = {}
    for u in ind.t["order_updates"]:
        if u["change_reason"] == "reply":
            replies.setdefault(u["client_order_id"], []).append(int(u["ts_ns"]))
    waits = []
    for a in ind.t["orders"]:
        if a["action"] == "insert":
            waits.append((min(t for t in replies[a["client_order_id"]] if t >= int(a["ts_ns"]))
                          - int(a["ts_ns"])) / 1e3)  # fmt: skip
    n, p50, _, _, mx = rep.latency.percentiles("insert")
    assert n == len(waits)
    assert p50 == pytest.approx(statistics.median(waits))
    assert mx == pytest.approx(max(waits))
    assert rep.latency.percentiles("amend")[1] == pytest.approx(2000.0)


def test_postgres_journal_gives_the_same_report(pg_url: str, tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'j.db'}"
    for url in (sqlite_url, pg_url):
        write_scenario(url, "same", seed=3)
    a, b = _report(sqlite_url, "same"), _report(pg_url, "same")
    assert b.headline.fills == a.headline.fills > 0
    assert b.headline == a.headline
    assert b.markouts == a.markouts
    assert b.quoting == a.quoting
    assert b.risk == a.risk
    out = tmp_path / "pg.html"
    assert main(["report", "--journal", pg_url, "--run", "same", "--out", str(out)]) == 0
    assert 'id="markouts-0"' in out.read_text()


def test_several_instruments_add_up_and_keep_their_groups_apart(tmp_path: Path) -> None:
    """One run quoting two instruments = the two runs quoting one each, summed; per-unit
    groups stay per instrument (USD per BTC and per ETH do not average)."""
    from .scenario import scenario_records, write_records  # noqa: PLC0415

    both = f"sqlite:///{tmp_path / 'both.db'}"
    btc = scenario_records(4, "BTC-PERPETUAL")
    eth = scenario_records(5, "ETH-PERPETUAL")
    middle = [r for r in eth if type(r).__name__ not in ("RunStart", "RunStop")]
    write_records(both, "both", [*btc[:-1], *middle, btc[-1]])
    singles = []
    for name, records in (("btc", btc), ("eth", eth)):
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        write_records(url, name, records)
        singles.append(_report(url, name))
    rep = _report(both, "both")
    assert rep.headline.fills == sum(s.headline.fills for s in singles)
    assert rep.headline.total_pnl == pytest.approx(sum(s.headline.total_pnl for s in singles))
    assert rep.headline.edge == pytest.approx(sum(s.headline.edge for s in singles))
    assert rep.markouts.markout["BTC-PERPETUAL all"] == singles[0].markouts.markout["all"]
    assert rep.markouts.markout["ETH-PERPETUAL level 1"] == singles[1].markouts.markout["level 1"]
    assert "all" not in rep.markouts.markout
    assert rep.risk.seconds == {
        f"{name} {state}": seconds
        for name, single in zip(("BTC-PERPETUAL", "ETH-PERPETUAL"), singles, strict=True)
        for state, seconds in single.risk.seconds.items()
    }
    assert rep.quoting.fill_rate_per_min["ETH-PERPETUAL bid 1"] == pytest.approx(
        singles[1].quoting.fill_rate_per_min["bid 1"]
    )
    assert rep.quoting.distance["ETH-PERPETUAL bid"] == pytest.approx(
        singles[1].quoting.distance["bid"]
    )


def test_latency_pairs_each_action_with_its_own_reply(tmp_path: Path) -> None:
    """A reply stamped in the instant of the next action answers the one before; an action
    answered by a rejection (no order update) gets no reply, not the next action's."""
    from thalex_mm.journal.records import OrderAction, OrderUpdate, RunStart  # noqa: PLC0415

    from .scenario import T0, write_records  # noqa: PLC0415

    ms = 1_000_000
    common = {"strategy": "mm", "instrument": "X", "client_order_id": 1}
    insert, reply1 = T0 + 10 * ms, T0 + 15 * ms
    amend, reply2 = reply1, T0 + 19 * ms  # sent in the same instant reply1 was handled
    rejected_amend, cancel, reply3 = T0 + 30 * ms, T0 + 40 * ms, T0 + 41 * ms
    records = [
        RunStart(ts_ns=T0, version="t"),
        OrderAction(ts_ns=insert, action="insert", side=1, price=1.0, amount=1.0, **common),
        OrderUpdate(ts_ns=reply1, order_id="a", status="open", side=1, price=1.0,
                    change_reason="reply", **common),
        OrderAction(ts_ns=amend, action="amend", price=1.5, amount=1.0, **common),
        OrderUpdate(ts_ns=reply2, order_id="a", status="open", side=1, price=1.5,
                    change_reason="reply", **common),
        OrderAction(ts_ns=rejected_amend, action="amend", price=2.0, amount=1.0, **common),
        OrderAction(ts_ns=cancel, action="cancel", **common),
        OrderUpdate(ts_ns=reply3, order_id="a", status="cancelled", side=1, price=1.5,
                    change_reason="reply", **common),
    ]  # fmt: skip
    url = f"sqlite:///{tmp_path / 'j.db'}"
    write_records(url, "lat", records)
    lat = _report(url, "lat").latency.by_action
    assert lat["insert"].tolist() == [(reply1 - insert) / 1e3]
    assert lat["amend"].tolist() == [(reply2 - amend) / 1e3]  # the rejected one has none
    assert lat["cancel"].tolist() == [(reply3 - cancel) / 1e3]
