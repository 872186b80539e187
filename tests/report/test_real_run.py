"""A real short run (``thalex-mm run`` on the in-process local exchange) reported: the
numbers match the journal's export recomputed here and the runner's own summary (a separate
code path: app/run_stats.py and app/markouts.py)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thalex_mm.cli.main import main
from thalex_mm.journal.query import Reader
from thalex_mm.report.load import load_run, select_runs
from thalex_mm.report.metrics import build

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.slow
def test_a_real_run_reports_what_the_journal_and_the_runner_say(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("THALEX_MM_PRIVATE_KEY", None)
    summary_file = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "thalex_mm", "run", "--duration", "10", "--journal", url,
         "--summary-json", str(summary_file)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    inst = json.loads(summary_file.read_text())["instruments"]["BTC-PERPETUAL"]
    assert inst["fills"] > 0

    out = tmp_path / "report.html"
    assert main(["report", "--journal", url, "--out", str(out)]) == 0
    with Reader(url) as reader:
        rep = build(load_run(reader, select_runs(reader, None)[0]))
    h = rep.headline

    assert main(["journal", "export", "--journal", url, "--out", str(tmp_path / "csv")]) == 0
    with (tmp_path / "csv" / "fills.csv").open() as fh:
        fills = list(csv.DictReader(fh))
    with (tmp_path / "csv" / "market.csv").open() as fh:
        market = sorted(csv.DictReader(fh), key=lambda r: (int(r["ts_ns"]), int(r["seq"])))
    final = next(float(r["mark"]) for r in reversed(market) if r["mark"])
    total = sum(
        int(f["side"]) * float(f["amount"]) * (final - float(f["price"])) - float(f["fee"])
        for f in fills
    )
    edge = sum(
        int(f["side"]) * (float(f["fair"]) - float(f["price"])) * float(f["amount"]) for f in fills
    )
    assert h.fills == len(fills) == inst["fills"]
    assert h.volume == pytest.approx(sum(float(f["amount"]) for f in fills))
    assert h.volume == pytest.approx(inst["volume"])
    assert h.fees_paid - h.rebates == pytest.approx(sum(float(f["fee"]) for f in fills))
    assert h.total_pnl == pytest.approx(total, abs=1e-9)
    assert h.edge == pytest.approx(edge)
    assert h.edge == pytest.approx(inst["edge_usd"], abs=1e-4)  # the runner's own number
    assert h.fees_paid - h.rebates == pytest.approx(inst["fees"], abs=1e-6)
    assert rep.markouts.markout["all"][0].n == len(fills)
