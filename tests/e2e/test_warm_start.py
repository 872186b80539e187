"""Warm start end to end: `thalex-mm run` twice on one journal, the second resumes σ, A, k.

The first run (11 s, enough takers for the intensity fit at its 10-s refit) journals its
estimator states every 4 s and at stop. The second run's start line and its first quote
decision must carry that last state's σ, A and k; a third run with --no-warm-start quotes
with the config's cold values (sigma_default, A, k) instead.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from thalex_mm.journal.query import Reader

from .test_cli_process import _env

CONFIG = """
[local_exchange]
taker_rate_per_s = 20.0
[run]
timer_interval_ms = 50.0
status_interval_s = 60.0
[journal]
writer = "thread"
estimator_interval_s = 4.0
[[instruments]]
name = "BTC-PERPETUAL"
[instruments.quote]
gamma_usd = 100.0
lot_size = 0.001
[instruments.quote.ladder]
levels = 2
[instruments.quoter]
sigma_default = 2.0
min_sigma_samples = 5
A = 1.0
k = 1.0
intensity_min_sweeps = 10.0
[instruments.risk]
max_position = 0.01
"""
SIGMA_DEFAULT, A_DEFAULT, K_DEFAULT = 2.0, 1.0, 1.0


async def _run(tmp_path: Path, url: str, duration_s: float, *flags: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "thalex_mm", "run", "--config", str(tmp_path / "c.toml"),
        "--journal", url, "--duration", str(duration_s), *flags,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(), cwd=tmp_path,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    return stdout.decode()


def _runs(reader: Reader) -> list[str]:
    return [row[0] for row in reader.rows("SELECT run_id FROM runs ORDER BY ts_ns")]


def _first_quote(reader: Reader, run_id: str) -> tuple[float, float, float]:
    rows = reader.rows(
        "SELECT sigma, a, k FROM quotes WHERE run_id = ? ORDER BY ts_ns, seq LIMIT 1", [run_id]
    )
    return rows[0]  # type: ignore[return-value]


def _estimates(state: dict[str, Any]) -> tuple[float, float, float, float, float]:
    """σ (the slow grid EWMA, σ² = Σr² / Σdt, or the fast one when it is above 1.5× it), the
    two sides' mean A and k, and the bid side's A and k, from a saved state's fields."""
    vol, sides = state["volatility"], state["intensity"]["sides"]
    slow = math.sqrt(vol["slow"][0] / vol["slow"][1])
    fast = math.sqrt(vol["fast"][0] / vol["fast"][1])
    sigma = fast if fast > vol["stressed_ratio"] * slow else slow
    a = 0.5 * (sides[0]["A"] + sides[1]["A"])
    k = 0.5 * (sides[0]["k"] + sides[1]["k"])
    return sigma, a, k, sides[0]["A"], sides[0]["k"]


async def test_a_second_run_quotes_with_the_first_runs_estimates(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(CONFIG)
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    first = await _run(tmp_path, url, 11)
    assert "warm start: BTC-PERPETUAL none found" in first
    with Reader(url) as r:
        (run1,) = _runs(r)
        saved = r.rows(
            "SELECT ts_ns, state FROM estimator_states WHERE run_id = ? ORDER BY ts_ns", [run1]
        )
    # every 4 s and at stop
    assert len(saved) >= 3, saved
    gaps = [(b[0] - a[0]) / 1e9 for a, b in itertools.pairwise(saved[:-1])]
    assert all(3.5 < g < 5.0 for g in gaps), gaps
    last = json.loads(saved[-1][1])
    bid_side = last["intensity"]["sides"][0]
    assert bid_side["fitted"], bid_side["status"]  # A, k differ from cold
    sigma, a, k, bid_a, bid_k = _estimates(last)
    assert abs(sigma - SIGMA_DEFAULT) > 1.0 and (a, k) != (A_DEFAULT, K_DEFAULT)

    second = await _run(tmp_path, url, 2)
    line = re.search(r"warm start: BTC-PERPETUAL restored sigma (\S+) A (\S+) k (\S+) ", second)
    assert line is not None, second
    shown = [float(x) for x in line.groups()]
    assert shown == pytest.approx([sigma, a, k], rel=1e-5)  # printed with 6 digits
    third = await _run(tmp_path, url, 2, "--no-warm-start")
    assert "warm start: off (--no-warm-start" in third
    with Reader(url) as r:
        _, run2, run3 = _runs(r)
        warm, cold = _first_quote(r, run2), _first_quote(r, run3)
    # the first quote of the warm run: the saved A and k exactly (quotes record the bid
    # side's); σ may have seen a grid return or two more, so it is close
    assert warm[1:] == (bid_a, bid_k)
    assert warm[0] == pytest.approx(sigma, rel=0.1)
    assert cold == (SIGMA_DEFAULT, A_DEFAULT, K_DEFAULT)
