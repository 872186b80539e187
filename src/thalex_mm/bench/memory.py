"""Benchmark: the engine process's memory with 1 and 100 instruments, and whether it grows.

Each variant is a fresh engine process (``engine_load``: the Runner quoting against the
local exchange in another process, SQLite journal on), so the RSS is the engine's alone.

- ``rss_mb_1_instrument``: median VmRSS over the window, BTC-PERPETUAL quoted on the default
  exchange (market data on change).
- ``rss_mb_100_instruments``: the same for the 100-instrument, 10,000 msg/s session (shared
  with the ``sustained`` benchmark when both run). ``rss_anon_*``: the anonymous part only
  (VmRSS also holds the touched pages of the journal's memory-mapped segment).
- ``rss_growth_mb_per_min``: least-squares slope of the engine's anonymous memory (RssAnon:
  heap and arenas) over that session's whole window (1 s samples; 8 minutes in a full run; an
  8 s quick run is only indicative). Budget <= 1 MB/min: a leak of one small object per
  market message would show as ~10+. VmRSS itself also counts the journal's memory-mapped
  segment (32 MiB, file-backed) as it fills, which rises ~7 MB/min at this load and falls
  back at each segment rotation: ``rss_total_growth_mb_per_min``.
- ``rss_fill_memories_full_s``: when, in that window, the engine's and the run statistics'
  bounded fill-key memories (``core/trade_ids.py``, 4,096 keys each) were full; until then
  memory grows by design (a few MB at ~30 fills/s). ``rss_growth_mb_per_min_after_full``: the
  slope after that moment (NaN when less than a minute of the window is left).
- ``rss_growth_mb_per_min_after_warmup``: the slope over the window's last part, from
  ``WARMUP_S`` (4 minutes) on: by then the fill memories are full, and on the Xeon host the
  heap had stopped growing (minute 3.5); on the AMD host it still rose until about minute 7,
  which this window includes.
  This is the "flat" check, budget <= 0.1 MB/min (6 MB an hour; a leak of 60 bytes per
  fill at ~30 fills/s would read 0.1). NaN in a quick run. The session's own samples are
  kept in preallocated arrays so they do not count as growth. For a longer look,
  ``python -m thalex_mm.bench.memory --minutes 40`` runs one session and prints the growth
  before and after the memories filled and after the warm-up.
- ``hot_classes_with_dict``: classes of per-event objects (core events, actions and
  decisions, venue wire Structs, journal records) whose instances carry a ``__dict__``;
  must be 0 (slots or msgspec Structs).
"""

from __future__ import annotations

import enum
import importlib
import inspect
import statistics
from collections.abc import Iterable, Sequence

from thalex_mm.bench.engine_load import (
    SessionOptions,
    cached_session,
    hundred_instruments,
    run_session,
)
from thalex_mm.bench.sampling import slope_per_minute

HOT_MODULES = (
    "thalex_mm.core.events",
    "thalex_mm.core.actions",
    "thalex_mm.venue.thalex.messages",
    "thalex_mm.journal.records",
)


def classes_with_dict(module_names: Iterable[str] = HOT_MODULES) -> list[str]:
    """Classes defined in ``module_names`` whose instances get a ``__dict__`` (enums and
    exceptions excepted: singletons and rare)."""
    found: list[str] = []
    for module_name in module_names:
        module = importlib.import_module(module_name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            if issubclass(cls, enum.Enum | BaseException) or inspect.isabstract(cls):
                continue
            if getattr(cls, "_is_protocol", False):  # typing.Protocol: never instantiated
                continue
            if cls.__dictoffset__ != 0:
                found.append(f"{module_name}.{name}")
    return found


def _median_and_slope(samples: Sequence[Sequence[float]]) -> tuple[float, float]:
    """(median MB over the window, slope MB/min) from (seconds, MB) samples."""
    if not samples:
        return -1.0, 0.0
    times = [t for t, _ in samples]
    values = [v for _, v in samples]
    return statistics.median(values), slope_per_minute(times, values)


MIN_AFTER_FULL_S = 60.0
WARMUP_S = 240.0
MIN_AFTER_WARMUP_S = 180.0


def growth_after(
    samples: Sequence[Sequence[float]], start_s: float | None, min_span_s: float = MIN_AFTER_FULL_S
) -> float | None:
    """Slope (MB/min) of the samples from ``start_s`` on; None when there is no start or
    less than ``min_span_s`` of samples after it."""
    if start_s is None:
        return None
    after = [sample for sample in samples if sample[0] >= start_s]
    if len(after) < 2 or after[-1][0] - after[0][0] < min_span_s:
        return None
    return _median_and_slope(after)[1]


def run(quick: bool) -> dict[str, float | int | str]:
    one = cached_session(
        SessionOptions(instruments=1, warmup_s=1.0, measure_s=2.0)
        if quick
        else SessionOptions(instruments=1, warmup_s=10.0, measure_s=30.0)
    )
    hundred = cached_session(hundred_instruments(quick))
    rss_one, _ = _median_and_slope(one["rss"])
    anon_one, _ = _median_and_slope(one["rss_anon"])
    rss_hundred, total_growth = _median_and_slope(hundred["rss"])
    anon_hundred, growth = _median_and_slope(hundred["rss_anon"])
    anon = hundred["rss_anon"]
    late = anon[len(anon) // 2 :]
    _, late_growth = _median_and_slope(late)
    full_s = hundred.get("memories_full_s")
    after_full = growth_after(anon, full_s)
    after_warmup = growth_after(anon, WARMUP_S, MIN_AFTER_WARMUP_S)
    unslotted = classes_with_dict()
    out: dict[str, float | int | str] = {
        "rss_mb_1_instrument": round(rss_one, 1),
        "rss_mb_100_instruments": round(rss_hundred, 1),
        "rss_anon_mb_1_instrument": round(anon_one, 1),
        "rss_anon_mb_100_instruments": round(anon_hundred, 1),
        "rss_anon_mb_per_extra_instrument": round((anon_hundred - anon_one) / 99, 3),
        "rss_growth_mb_per_min": round(growth, 2),
        "rss_growth_mb_per_min_second_half": round(late_growth, 2),
        "rss_total_growth_mb_per_min": round(total_growth, 2),
        "rss_growth_window_s": round(anon[-1][0] - anon[0][0], 1) if anon else 0.0,
        "rss_fill_memories_full_s": round(full_s, 1) if full_s is not None else float("nan"),
        "rss_growth_mb_per_min_after_full": (
            round(after_full, 2) if after_full is not None else float("nan")
        ),
        "rss_growth_mb_per_min_after_warmup": (
            round(after_warmup, 3) if after_warmup is not None else float("nan")
        ),
        "hot_classes_with_dict": len(unslotted),
    }
    if unslotted:
        out["hot_classes_with_dict_names"] = " ".join(unslotted)
    return out


def long_run(minutes: float) -> None:
    """The 100-instrument session for ``minutes``: anonymous RSS minute by minute, and the
    growth before and after the bounded fill-key memories filled up."""
    opts = SessionOptions(instruments=100, warmup_s=10.0, measure_s=minutes * 60.0, ab_phases=0)
    result = run_session(opts)
    anon = result["rss_anon"]
    for t, mb in anon[:: max(1, round(60 / opts.rss_every_s))]:
        print(f"{t / 60:5.1f} min  RssAnon {mb:7.2f} MB")
    full_s = result.get("memories_full_s")
    print(f"whole window: {_median_and_slope(anon)[1]:.3f} MB/min")
    if full_s is None:
        print("the fill-key memories did not fill up in the window")
    else:
        before = [sample for sample in anon if sample[0] <= full_s]
        print(f"memories full after {full_s / 60:.1f} min")
        print(f"  growth before: {_median_and_slope(before)[1]:.3f} MB/min")
        after = growth_after(anon, full_s)
        print(f"  growth after:  {'n/a' if after is None else f'{after:.3f} MB/min'}")
    settled = growth_after(anon, WARMUP_S, MIN_AFTER_WARMUP_S)
    shown = "n/a" if settled is None else f"{settled:.3f} MB/min"
    print(f"after the {WARMUP_S / 60:.0f}-minute warm-up: {shown}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m thalex_mm.bench.memory")
    parser.add_argument("--minutes", type=float, help="one long 100-instrument session")
    parser.add_argument("--full", action="store_true", help="the full benchmark's variants")
    args = parser.parse_args()
    if args.minutes:
        long_run(args.minutes)
    else:
        for key, value in run(quick=not args.full).items():
            print(f"{key}: {value}")
