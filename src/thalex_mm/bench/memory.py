"""Benchmark: the engine process's memory with 1 and 100 instruments, and whether it grows.

Each variant is a fresh engine process (``engine_load``: the Runner quoting against the
local exchange in another process, SQLite journal on), so the RSS is the engine's alone.

- ``rss_mb_1_instrument``: median VmRSS over the window, BTC-PERPETUAL quoted on the default
  exchange (market data on change).
- ``rss_mb_100_instruments``: the same for the 100-instrument, 10,000 msg/s session (shared
  with the ``sustained`` benchmark when both run). ``rss_anon_*``: the anonymous part only
  (VmRSS also holds the touched pages of the journal's memory-mapped segment).
- ``rss_growth_mb_per_min``: least-squares slope of the engine's anonymous memory (RssAnon:
  heap and arenas) over that session's window after warm-up (1 s samples; 5 minutes in a
  full run; a 10 s quick run is only indicative). Budget <= 1 MB/min: a leak of one small
  object per market message would show as ~10+. VmRSS itself also counts the journal's
  memory-mapped segment (32 MiB, file-backed) as it fills, which rises ~7 MB/min at this
  load and falls back at each segment rotation: ``rss_total_growth_mb_per_min``.
- ``hot_classes_with_dict``: classes of per-event objects (core events, actions and
  decisions, venue wire Structs, journal records) whose instances carry a ``__dict__``;
  must be 0 (slots or msgspec Structs).
"""

from __future__ import annotations

import enum
import importlib
import inspect
import statistics
from collections.abc import Iterable

from thalex_mm.bench.engine_load import (
    SessionOptions,
    cached_session,
    hundred_instruments,
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


def _median_and_slope(samples: list[list[float]]) -> tuple[float, float]:
    """(median MB over the window, slope MB/min) from (seconds, MB) samples."""
    if not samples:
        return -1.0, 0.0
    times = [t for t, _ in samples]
    values = [v for _, v in samples]
    return statistics.median(values), slope_per_minute(times, values)


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
        "hot_classes_with_dict": len(unslotted),
    }
    if unslotted:
        out["hot_classes_with_dict_names"] = " ".join(unslotted)
    return out


if __name__ == "__main__":
    import sys

    for key, value in run(quick="--full" not in sys.argv).items():
        print(f"{key}: {value}")
