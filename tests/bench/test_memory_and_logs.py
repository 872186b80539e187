"""Hot objects carry no __dict__; no per-message log calls in the hot path; log call cost."""

from __future__ import annotations

import logging
import math
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import pytest

from thalex_mm.bench import logs, memory
from thalex_mm.core import events


@pytest.fixture
def fake_module() -> Iterator[str]:
    module = types.ModuleType("thalex_mm_fake_hot")

    class Plain:
        pass

    @dataclass(slots=True)
    class Slotted:
        x: int

    class Wire(msgspec.Struct):
        x: int

    class WireWithDict(msgspec.Struct, dict=True):
        x: int

    for cls in (Plain, Slotted, Wire, WireWithDict):
        cls.__module__ = module.__name__
        setattr(module, cls.__name__, cls)
    sys.modules[module.__name__] = module
    yield module.__name__
    del sys.modules[module.__name__]


def test_classes_with_dict_finds_the_unslotted_ones(fake_module: str) -> None:
    found = memory.classes_with_dict([fake_module])
    assert sorted(found) == [f"{fake_module}.Plain", f"{fake_module}.WireWithDict"]


def test_hot_objects_are_slotted() -> None:
    assert memory.classes_with_dict() == []
    # and the check looked at real classes: the core's events are among them
    assert events.Ticker.__dictoffset__ == 0


SOURCE = """
import logging
log = logging.getLogger(__name__)

class Reader:
    def on_frame(self, frame):
        log.info("frame %s", frame)                 # per message: flagged
        try:
            handle(frame)
        except Exception:
            log.exception("bad frame")              # error path: fine
        if self._debug:
            log.debug("%s", frame)                  # debug guard: fine
        if self.errors == 1 or self.errors % 1000 == 0:
            log.warning("errors")                   # no guard word: flagged

        def inner():
            log.debug("nested")                     # inside a hot method: flagged

    def close(self):
        log.info("closed")                          # not a hot function

def helper():
    logger.warning("x")
"""


def test_unguarded_log_calls_in_hot_functions() -> None:
    found = logs.unguarded_log_calls(SOURCE, "m.py", frozenset({"on_frame"}))
    lines = SOURCE.splitlines()
    texts = [lines[c.line - 1].strip() for c in found]
    assert [t.split("#")[1].strip() for t in texts] == [
        "per message: flagged",
        "no guard word: flagged",
        "inside a hot method: flagged",
    ]
    assert all(c.function == "on_frame" for c in found)


def test_whole_module_mode_sees_every_function() -> None:
    found = logs.unguarded_log_calls(SOURCE, "m.py", None)
    assert {c.function for c in found} == {"on_frame", "close", "helper"}


def test_the_hot_path_has_no_per_message_log_calls() -> None:
    assert [str(c) for c in logs.hot_path_log_calls()] == []


def test_filtered_call_cost_is_measured_and_level_restored() -> None:
    root = logging.getLogger()
    before = root.level
    ns = logs.filtered_call_ns(calls=2000, rounds=2)
    assert ns > 0
    assert root.level == before


def test_growth_after_the_memories_fill_uses_only_the_later_samples() -> None:
    # 2 MB/min while the fill-key memories fill (first 120 s), flat afterwards
    samples = [[t, 50.0 + min(t, 120.0) / 30.0] for t in range(0, 301, 5)]
    after = memory.growth_after(samples, 120.0)
    assert after is not None and abs(after) < 1e-9
    assert memory.growth_after(samples, None) is None  # never full: no figure
    assert memory.growth_after(samples, 280.0) is None  # under a minute left: no figure
    whole = memory._median_and_slope(samples)[1]
    assert whole > 0.5  # the whole window still shows the fill-up


def _session(seconds: int, leak_mb_per_min: float) -> dict[str, object]:
    """A fake 100-instrument session: 1 MB/min of warm-up for 4 minutes, then the leak."""
    anon = [
        (float(t), 50.0 + min(t, 240) / 60.0 + max(t - 240, 0) * leak_mb_per_min / 60.0)
        for t in range(seconds + 1)
    ]
    return {"rss": anon, "rss_anon": anon, "memories_full_s": 125.0}


@pytest.mark.parametrize(
    ("seconds", "leak", "expected", "check"),
    [
        (480, 0.0, 0.0, "pass"),  # warm-up then flat
        (480, 0.3, 0.3, "FAIL"),  # a planted leak after the warm-up
        (10, 0.0, None, ""),  # a quick run is too short: NaN, no verdict
    ],
)
def test_the_flat_check_reads_only_after_the_warmup(
    monkeypatch: pytest.MonkeyPatch, seconds: int, leak: float, expected: float | None, check: str
) -> None:
    from thalex_mm.bench import runner  # noqa: PLC0415

    fake = _session(seconds, leak)
    monkeypatch.setattr(memory, "cached_session", lambda opts: fake)
    out = memory.run(quick=seconds < 60)
    value = out["rss_growth_mb_per_min_after_warmup"]
    assert isinstance(value, float)
    if expected is None:
        assert math.isnan(value)
    else:
        assert value == pytest.approx(expected, abs=1e-3)
    assert out["rss_growth_mb_per_min"] > 0.3  # the whole window still shows the warm-up
    assert runner.verdict("rss_growth_mb_per_min_after_warmup", value) == check


def test_fill_memories_count_as_full_only_when_both_are(monkeypatch) -> None:
    from thalex_mm.bench import engine_load  # noqa: PLC0415
    from thalex_mm.core.trade_ids import TradeIds  # noqa: PLC0415

    engine_ids, stats_ids = TradeIds(3), TradeIds(2)
    runner = types.SimpleNamespace(
        engine=types.SimpleNamespace(trade_ids=engine_ids),
        stats=types.SimpleNamespace(seen_trades=stats_ids),
    )
    assert not engine_load._fill_memories_full(runner)
    for key in ("a", "b", "c", "d"):
        engine_ids.add(key)
    assert not engine_load._fill_memories_full(runner)  # the statistics' one is empty
    stats_ids.add("a")
    stats_ids.add("b")
    assert engine_load._fill_memories_full(runner)
    assert not engine_load._fill_memories_full(types.SimpleNamespace(engine=None, stats=None))
