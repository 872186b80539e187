"""The warm start's choices (by age) and its start line (restored σ, A, k, or why not)."""

from __future__ import annotations

import itertools
import json
import math

from thalex_mm.app.warm_start import SavedStates, restore, select_states
from thalex_mm.core import events as ev
from thalex_mm.core.config import EngineConfig, InstrumentConfig, QuoterConfig
from thalex_mm.core.engine import Engine
from thalex_mm.domain import InstrumentKind, InstrumentSpec

S = 1_000_000_000


def _spec(name: str) -> InstrumentSpec:
    return InstrumentSpec(name, InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001)


def _engine(*names: str) -> Engine:
    quoter = QuoterConfig(min_sigma_samples=2, A=1.0, k=0.05, fit_intensity=False)
    return Engine(EngineConfig(tuple(InstrumentConfig(_spec(n), quoter=quoter) for n in names)))


def _warm_state(name: str, mids: list[int]) -> dict[str, object]:
    """A state after ``mids`` one second apart, as the journal returns it (via JSON)."""
    engine = _engine(name)
    for i, mid in enumerate(mids):
        engine.handle(ev.BookTop(i * S, name, mid - 1, 5, mid + 1, 5))
    state = engine.estimator_states()[name]
    return json.loads(json.dumps(state))  # type: ignore[no-any-return]


def test_states_older_than_the_limit_are_set_aside_with_their_age() -> None:
    now = 10_000 * S
    saved = {"A": (now - 5 * S, {"x": 1}), "B": (now - 4000 * S, {"x": 2})}
    chosen = select_states(saved, now_ns=now, max_age_s=3600)
    assert chosen.states == {"A": {"x": 1}} and chosen.ages_s == {"A": 5.0}
    assert chosen.too_old == {"B": 4000.0}


def test_the_line_names_what_was_restored_and_why_the_rest_was_not() -> None:
    # mids 100, 103, 99, 101 one second apart, on the estimator's 1 s grid: the price at
    # grid point g is the one in force up to g, so by the last update the grid has seen
    # 100, 100, 103, 99 (returns 0, 3, -4); σ² = Σr² / Σdt, both sums decayed by
    # 2^(-1 s / half-life) per step (GridVolatility, docs/model.md)
    mids = [100, 103, 99, 101]
    state = _warm_state("BTC-PERPETUAL", mids)
    decay = 2.0 ** (-1.0 / QuoterConfig().sigma_halflife_s)  # per one-second step
    r2 = dt = 0.0
    grid = [mids[0], *mids[:-1]]
    for a, b in itertools.pairwise(grid):
        r2, dt = r2 * decay + (b - a) ** 2, dt * decay + 1.0
    sigma = math.sqrt(r2 / dt)
    engine = _engine("BTC-PERPETUAL", "ETH-PERPETUAL", "SOL-PERPETUAL", "XRP-PERPETUAL")
    saved = SavedStates(
        states={"BTC-PERPETUAL": state, "ETH-PERPETUAL": {"kind": "something else"}},
        ages_s={"BTC-PERPETUAL": 12.4, "ETH-PERPETUAL": 1.0},
        too_old={"SOL-PERPETUAL": 7200.0},
        max_age_s=3600.0,
    )
    line = restore(engine, saved)
    assert line.startswith("warm start: ")
    assert f"BTC-PERPETUAL restored sigma {sigma:.6g} A 1 k 0.05 (saved 12 s ago)" in line
    assert "ETH-PERPETUAL refused (not a saved quoter estimator state)" in line
    assert "SOL-PERPETUAL too old (saved 7200 s ago, max 3600 s)" in line
    assert "XRP-PERPETUAL none found" in line
    assert "\n" not in line
    restored = engine.estimates()
    assert restored["BTC-PERPETUAL"][0] == sigma
    assert restored["ETH-PERPETUAL"][0] is None  # refused: still cold


def test_many_instruments_are_counted_not_listed() -> None:
    names = [f"I{i}-PERPETUAL" for i in range(6)]
    engine = _engine(*names)
    state = _warm_state(names[0], [100, 101, 103])
    saved = SavedStates(
        states={names[0]: state, names[1]: state}, ages_s={names[0]: 1.0, names[1]: 1.0},
        too_old={names[2]: 9999.0}, max_age_s=60.0,
    )  # fmt: skip
    line = restore(engine, saved)
    assert line == ("warm start: restored 2 of 6 instruments, too old (> 60 s) 1, none found 3")


def test_off_says_why() -> None:
    assert restore(_engine("BTC-PERPETUAL"), SavedStates(off="no journal")) == (
        "warm start: off (no journal)"
    )


def test_a_restore_that_raises_is_reported_and_does_not_stop_the_start() -> None:
    engine = _engine("BTC-PERPETUAL")

    def broken(states: object) -> dict[str, str]:
        raise RuntimeError("unexpected")

    engine.restore_estimators = broken  # type: ignore[method-assign]
    line = restore(engine, SavedStates(states={"BTC-PERPETUAL": {}}, ages_s={"BTC-PERPETUAL": 1}))
    assert line == (
        "warm start: failed, some instruments may start cold (RuntimeError('unexpected'))"
    )
