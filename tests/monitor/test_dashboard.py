"""The dashboard's alerts and numbers, the metric names, and the Grafana dashboard's
queries, from snapshots written with chosen values."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from thalex_mm.monitor import layout
from thalex_mm.monitor.dashboard import alerts, frame, frame_text, quantile_us
from thalex_mm.monitor.metrics import SnapshotCollector, families
from thalex_mm.monitor.snapshot import Snapshot, SnapshotReader

from .conftest import values, write_snapshot

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "monitoring.md"
GRAFANA = ROOT / "docs" / "grafana" / "thalex-mm.json"


def _snap(
    tmp_path: Path, *, run: dict[str, object], fast: dict[str, object], slow: dict[str, object]
) -> Snapshot:
    w = write_snapshot(tmp_path / "d.snap")
    now = time.time_ns()
    w.write_run(*values(layout.RUN, updated_ns=now, **run))
    head = values(layout.FAST_HEAD, **{"updated_ns": now, "market_ns": now, **fast})
    w.write_fast(0, 0, 0, tuple(head))
    w.write_slow(0, *values(layout.SLOW, updated_ns=now, **slow))
    snap = SnapshotReader(w.path).read()
    w.close()
    return snap


def _texts(snap: Snapshot, alive: bool = True) -> list[str]:
    return [a.text for a in alerts(snap, alive)]


def test_a_quiet_healthy_run_has_no_alerts(tmp_path: Path) -> None:
    snap = _snap(tmp_path, run={"connection": layout.CONNECTED}, fast={}, slow={})
    assert _texts(snap) == []
    assert "no alerts" in frame_text(frame(snap))


@pytest.mark.parametrize(
    ("run", "fast", "slow", "alive", "expected"),
    [
        ({"connection": layout.DISCONNECTED}, {}, {}, True, "DISCONNECTED from the venue"),
        ({"connection": layout.CONNECTED, "blocked": "journal behind"}, {}, {}, True,
         "BACK-PRESSURE, no new risk: journal behind"),
        ({"connection": layout.CONNECTED}, {"state": 2}, {"reason": "max loss 5"}, True,
         "BTC-PERPETUAL HALTED: max loss 5"),
        ({"connection": layout.CONNECTED}, {"state": 1}, {"reason": "position limit"}, True,
         "BTC-PERPETUAL REDUCING: position limit"),
        ({"connection": layout.CONNECTED}, {"market_ns": 1}, {}, True, "market data STALE"),
        ({"connection": layout.CONNECTED}, {}, {}, False, "engine process is gone"),
        ({"connection": layout.STOPPED, "stop_reason": "SIGTERM"}, {}, {}, True,
         "run stopped (SIGTERM)"),
    ],
)  # fmt: skip
def test_alerts_say_what_needs_the_operator(
    tmp_path: Path,
    run: dict[str, object],
    fast: dict[str, object],
    slow: dict[str, object],
    alive: bool,
    expected: str,
) -> None:
    snap = _snap(tmp_path, run=run, fast=fast, slow=slow)
    found = _texts(snap, alive)
    assert any(expected in t for t in found), found
    assert expected.split(":", maxsplit=1)[0] in frame_text(frame(snap, alive=alive))


def test_a_silent_engine_is_an_alert(tmp_path: Path) -> None:
    w = write_snapshot(tmp_path / "d.snap")
    old = time.time_ns() - 10 * 10**9
    w.write_run(*values(layout.RUN, updated_ns=old, connection=layout.CONNECTED))
    snap = SnapshotReader(w.path).read()
    assert any("has not updated its snapshot for 10 s" in t for t in _texts(snap))


def test_quantiles_come_from_the_histogram_as_prometheus_does() -> None:
    buckets = [0] * layout.N_BUCKETS
    assert quantile_us(buckets, 0.5) is None
    buckets[1] = 100  # 100 samples in (5, 10] us
    assert quantile_us(buckets, 0.5) == pytest.approx(7.5)
    assert quantile_us(buckets, 1.0) == pytest.approx(10.0)
    buckets[-1] = 100  # and 100 beyond the last bound: at least 10 ms
    assert quantile_us(buckets, 0.99) == layout.BUCKETS_US[-2]


def _served(tmp_path: Path) -> str:
    w = write_snapshot(tmp_path / "m.snap", ("BTC-PERPETUAL", "ETH-PERPETUAL"))
    w.write_run(*values(layout.RUN, updated_ns=time.time_ns(), msgs_in=5))
    registry = CollectorRegistry(auto_describe=False)
    reader = SnapshotReader(w.path)
    registry.register(SnapshotCollector(reader))
    text = generate_latest(registry).decode()
    assert reader.engine_alive() and int(reader.header["pid"]) == os.getpid()
    w.close()
    return text


def test_metric_names_follow_prometheus_conventions(tmp_path: Path) -> None:
    text = _served(tmp_path)
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))
    assert len(types) > 30
    for name, kind in types.items():
        assert name.startswith("thalex_mm_"), name
        assert kind in ("gauge", "counter", "histogram"), (name, kind)
        if kind == "counter":
            assert name.endswith("_total"), name
        assert not re.search(r"_(ms|us|millis|micro|percent)\b", name), name  # base units
    assert 'thalex_mm_messages_received_total{run="test-run"} 5.0' in text
    assert 'instrument="ETH-PERPETUAL"' in text


def test_docs_list_every_metric_served(tmp_path: Path) -> None:
    text = DOCS.read_text(encoding="utf-8")
    names = set(re.findall(r"^# TYPE (\S+) (\S+)$", _served(tmp_path), re.MULTILINE))
    for name, kind in names:
        assert f"| `{name}` | {kind} |" in text, name


def test_every_grafana_query_names_a_metric_the_exporter_serves(tmp_path: Path) -> None:
    served = set()
    for f in families(SnapshotReader(write_snapshot(tmp_path / "g.snap").path).read()):
        if f.type == "counter":
            served.add(f.name + "_total")
        elif f.type == "histogram":
            served |= {f.name + suffix for suffix in ("_bucket", "_count", "_sum")}
        else:
            served.add(f.name)
    dashboard = json.loads(GRAFANA.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"]]
    assert len(exprs) > 20
    for expr in exprs:
        used = set(re.findall(r"\bthalex_mm_\w+", expr))
        assert used and used <= served, (expr, used - served)


def test_the_monitor_room_imports_none_of_the_engine() -> None:
    # docs/architecture.md: monitor/ knows only the snapshot file
    import ast  # noqa: PLC0415

    allowed = ("thalex_mm.monitor", "thalex_mm.errors", "prometheus_client", "rich", "textual")
    for path in (ROOT / "src" / "thalex_mm" / "monitor").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in ("thalex_mm", "prometheus_client", "rich", "textual"):
                    assert name.startswith(allowed), f"{path.name} imports {name}"


def test_rejections_are_counted_by_the_venues_code(tmp_path: Path) -> None:
    w = write_snapshot(tmp_path / "r.snap")
    codes = [3, 21, -1, 0, 0, 0, 0, 0]
    counts = [2, 1, 5, 0, 0, 0, 0, 0]
    w.write_slow(0, *values(layout.SLOW, reject_codes=codes, reject_counts=counts))
    got = {
        s.labels["code"]: s.value
        for f in families(SnapshotReader(w.path).read())
        for s in f.samples
        if s.name == "thalex_mm_rejections_total"
    }
    assert got == {"3": 2.0, "21": 1.0, "-1": 5.0}
