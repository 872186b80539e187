"""Run the registered benchmark modules, judge them against known budgets, report.

A benchmark module is ``thalex_mm.bench.<name>`` exposing
``run(quick: bool) -> dict[str, float | int | str]``. Adding one is one line in
``BENCH_MODULES`` (and, if it has a budget, one line in ``BUDGETS``). A module that raises is
reported as an error row; the others still run.
"""

from __future__ import annotations

import importlib
import math
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Metrics = dict[str, float | int | str]

# Benchmark modules under thalex_mm.bench, in run order.
BENCH_MODULES: tuple[str, ...] = (
    "quote", "decode", "core", "matching", "exchange", "journal", "sustained", "memory", "logs",
    "tick_to_order", "economics", "backtest", "monitor",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Budget:
    """A limit a metric must meet: value <= limit (or >= limit when higher is better; and
    <= ``upper`` too when one is set: a range)."""

    limit: float
    unit: str
    higher_is_better: bool = False
    upper: float | None = None

    def passes(self, value: float) -> bool:
        if self.upper is not None:
            return self.limit <= value <= self.upper
        return value >= self.limit if self.higher_is_better else value <= self.limit

    def describe(self) -> str:
        if self.upper is not None:
            return f"{self.limit:g} to {self.upper:g} {self.unit}".rstrip()
        return f"{'>=' if self.higher_is_better else '<='} {self.limit:g} {self.unit}"


# Known budgets, by metric name.
BUDGETS: dict[str, Budget] = {
    "quote_us_median": Budget(10.0, "us"),
    "quote_as_us_median": Budget(10.0, "us"),
    "decode_dispatch_msgs_per_s": Budget(150_000, "msg/s", higher_is_better=True),
    "matching_orders_per_s": Budget(20_000, "orders/s", higher_is_better=True),
    "exchange_md_msgs_per_s": Budget(20_000, "msg/s", higher_is_better=True),
    "journal_append_us_p99": Budget(5.0, "us"),
    "journal_sqlite_rows_per_s": Budget(10_000, "rows/s", higher_is_better=True),
    "journal_postgres_rows_per_s": Budget(10_000, "rows/s", higher_is_better=True),
    "sustained_md_msgs_per_s": Budget(9_500, "msg/s", higher_is_better=True),
    "sustained_msgs_dropped": Budget(0, "msgs"),
    "loop_lag_added_us_p99": Budget(20.0, "us"),
    "rss_growth_mb_per_min": Budget(1.0, "MB/min"),
    "rss_growth_mb_per_min_after_warmup": Budget(0.1, "MB/min"),
    "hot_classes_with_dict": Budget(0, "classes"),
    "log_bytes_per_10k_msgs": Budget(1024, "bytes"),
    "log_hot_path_calls": Budget(0, "calls"),
    "tick_to_order_us_p50": Budget(30.0, "us"),
    "tick_to_order_us_p99": Budget(100.0, "us"),
    # the default demo earns, within 30 % of its policy's theoretical expectation
    "econ_pnl_per_min": Budget(0.0, "USD/min", higher_is_better=True),
    "econ_pnl_vs_theory": Budget(0.7, "x theory", upper=1.3),
    "econ_informed_pnl_per_min": Budget(0.0, "USD/min", higher_is_better=True),
    "backtest_events_per_s": Budget(1_000_000, "events/s", higher_is_better=True),
    "backtest_vs_hftbacktest": Budget(0.25, "x hftbacktest", higher_is_better=True),
    # the live snapshot (bench/monitor.py): one cycle's write, and tick-to-order with it on
    # vs off in the same run (interleaved)
    "snapshot_write_us_median": Budget(2.0, "us"),
    "snapshot_tick_to_order_p50_ratio": Budget(1.1, "x (on/off)"),
}

# Units for metrics without a budget, by name suffix.
_SUFFIX_UNITS = (
    ("_msgs_per_s", "msg/s"),
    ("_per_s", "/s"),
    ("_us_median", "us"),
    ("_us_p90", "us"),
    ("_us_p99", "us"),
    ("_us", "us"),
    ("_ms", "ms"),
    ("_seconds", "s"),
    ("_s", "s"),
)


@dataclass(slots=True)
class ModuleResult:
    name: str
    metrics: Metrics = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


def run_modules(
    names: Iterable[str],
    quick: bool,
    load: Callable[[str], Any] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[ModuleResult]:
    """Run each named module; a module that fails to import or run becomes an error result."""
    loader = load or (lambda name: importlib.import_module(f"thalex_mm.bench.{name}"))
    results: list[ModuleResult] = []
    for name in names:
        started = clock()
        try:
            module = loader(name)
            raw = module.run(quick)
            if not isinstance(raw, dict):
                raise TypeError(f"run() returned {type(raw).__name__}, expected dict")
            metrics: Metrics = {str(k): v for k, v in raw.items()}
            results.append(ModuleResult(name, metrics, None, clock() - started))
        except Exception as exc:  # a broken benchmark must not stop the others
            last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
            error = f"{type(exc).__name__}: {exc}{where}"
            results.append(ModuleResult(name, {}, error, clock() - started))
    return results


def merge_metrics(results: Iterable[ModuleResult]) -> Metrics:
    """All metrics in one dict; a name seen twice is prefixed with its module's name."""
    merged: Metrics = {}
    for result in results:
        for key, value in result.metrics.items():
            merged[f"{result.name}.{key}" if key in merged else key] = value
    return merged


def verdict(metric: str, value: float | int | str) -> str:
    """The check for one metric: pass, FAIL, or empty when it has no budget or is no number
    (NaN included: a figure the run was too short to measure is not a failure)."""
    budget = BUDGETS.get(metric)
    if budget is None or isinstance(value, (str, bool)) or math.isnan(value):
        return ""
    return "pass" if budget.passes(float(value)) else "FAIL"


def _unit(metric: str) -> str:
    budget = BUDGETS.get(metric)
    if budget is not None:
        return budget.describe()
    for suffix, unit in _SUFFIX_UNITS:
        if metric.endswith(suffix):
            return unit
    return ""


def _fmt_value(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.6g}"
    return str(value)


def format_table(results: Iterable[ModuleResult]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    for result in results:
        if result.error is not None:
            rows.append((f"{result.name} (module)", "ERROR", result.error, "FAIL"))
            continue
        for key, value in result.metrics.items():
            rows.append((key, _fmt_value(value), _unit(key), verdict(key, value)))
    head = ("metric", "value", "unit / budget", "check")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    lines = [
        f"{head[0]:<{widths[0]}}  {head[1]:>{widths[1]}}  {head[2]:<{widths[2]}}  {head[3]}",
        "-" * (sum(widths) + 6 + len(head[3])),
    ]
    for metric, value, unit, check in rows:
        lines.append(f"{metric:<{widths[0]}}  {value:>{widths[1]}}  {unit:<{widths[2]}}  {check}")
    return "\n".join(lines)


def build_report(
    results: list[ModuleResult],
    quick: bool,
    machine: dict[str, str | int],
    versions: dict[str, str],
    timestamp: str,
) -> dict[str, Any]:
    """The JSON document written by ``thalex-mm bench``."""
    metrics = merge_metrics(results)
    checks = {k: v for k, v in ((k, verdict(k, val)) for k, val in metrics.items()) if v}
    return {
        "timestamp": timestamp,
        "quick": quick,
        "metrics": metrics,
        "budgets": {k: b.describe() for k, b in BUDGETS.items()},
        "checks": checks,
        "errors": {r.name: r.error for r in results if r.error is not None},
        "module_seconds": {r.name: round(r.seconds, 3) for r in results},
        "machine": machine,
        "versions": versions,
    }


def all_passed(results: Iterable[ModuleResult]) -> bool:
    results = list(results)
    if any(r.error is not None for r in results):
        return False
    return all(verdict(k, v) != "FAIL" for k, v in merge_metrics(results).items())
