"""``thalex-mm sweep``: an Optuna study over backtests of a generated window; resumable,
constrained, the best trial a runnable config checked out of sample; a PostgreSQL study
shared by two worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from thalex_mm.app.settings import load_config
from thalex_mm.app.sweep import SweepOptions, load_space, run_sweep
from thalex_mm.errors import UserError
from thalex_mm.journal.query import Reader, list_runs

from .test_replay import REFERENCE, _small_window

SPACE = """
[params."quote.half_spread_ticks"]
low = 1.0
high = 30.0

[params."quote.ladder.levels"]
type = "int"
low = 1
high = 2
"""


def _opts(tmp_path: Path, window: str, **kw: object) -> SweepOptions:
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    base = {"config": REFERENCE, "space": space, "data": (window,), "trials": 8,
            "progress": False, "latency_ms": (10.0, 10.0), "partial_fills": False}  # fmt: skip
    base.update(kw)
    return SweepOptions(**base)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_study_finds_the_spread_the_sweeps_reach_and_resumes(tmp_path: Path) -> None:
    window = _small_window(tmp_path)
    # every 2 s a sweep takes everything within 1 USD = 10 ticks of the touch: a half
    # spread above ~10.5 ticks never fills, so those trials break --min-fills
    result = run_sweep(_opts(tmp_path, window, workers=2, min_fills=10, holdout=(window,)))
    assert len(result.trials) == 8
    assert result.best is not None and result.best["feasible"]
    assert result.best["params"]["quote.half_spread_ticks"] < 10.5
    for t in result.trials:
        if t["params"]["quote.half_spread_ticks"] > 11.0:
            assert t["fills"] == 0 and not t["feasible"]
    assert len({t["worker"] for t in result.trials}) == 2  # both processes ran trials
    best = load_config(result.best_config)  # runnable as it stands
    assert best.instruments[0].quote.half_spread_ticks == pytest.approx(
        result.best["params"]["quote.half_spread_ticks"]
    )
    assert result.holdout[0]["objective"] == pytest.approx(result.best["value"])
    again = run_sweep(_opts(tmp_path, window, trials=3, min_fills=10))  # the same study
    assert len(again.trials) == 11


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_share_one_postgresql_study(tmp_path: Path, pg_url: str) -> None:
    window = _small_window(tmp_path)
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    cmd = [sys.executable, "-m", "thalex_mm", "sweep", "--config", str(REFERENCE),
           "--space", str(space), "--data", window, "--trials", "3", "--storage", pg_url,
           "--study", "shared", "--latency-ms", "10,10"]  # fmt: skip
    procs = [
        subprocess.Popen(
            [*cmd, "--json", str(tmp_path / f"w{i}.json"), "--seed", str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    last = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2)]
    trials = max(last, key=lambda r: len(r["trials"]))["trials"]
    assert len(trials) == 6  # 3 + 3 in one study
    assert len({t["worker"] for t in trials}) == 2


def test_a_bad_space_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[params."quote.gamma_usd"]\nlow = 5\nhigh = 1\n')
    with pytest.raises(UserError, match="low must be below high"):
        load_space(bad)
    bad.write_text('[params."quote.gamma_usd"]\nlow = 0\nhigh = 1\nlog = true\n')
    with pytest.raises(UserError, match="log range"):
        load_space(bad)
    with pytest.raises(UserError, match="--objective"):
        run_sweep(_opts(tmp_path, "x", objective="profit"))


@pytest.mark.slow
def test_the_report_of_the_best_trials(tmp_path: Path) -> None:
    window = _small_window(tmp_path)
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    out = tmp_path / "best.html"
    proc = subprocess.run(
        [sys.executable, "-m", "thalex_mm", "sweep", "--config", str(REFERENCE),
         "--space", str(space), "--data", window, "--trials", "4", "--latency-ms", "10,10",
         "--report", str(out), "--report-top", "2"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert "Markout" in page

    with Reader(f"sqlite:///{out}.db") as r:
        runs = list_runs(r)
    assert len(runs) == 2  # the two best trials, backtested into the journal
