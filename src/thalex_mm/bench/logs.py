"""Benchmark: what logging costs per market message at the default level.

- ``log_bytes_per_10k_msgs``: bytes the app's log handler (``app.logs.QueueLogging`` at
  INFO, as ``thalex-mm run`` installs it) wrote during the 100-instrument, 10,000 msg/s
  session, per 10,000 market messages handled. Only periodic aggregates should appear
  (the status line every 5 s); budget <= 1024 bytes.
- ``log_max_record_bytes``: the longest record written (the status line, which lists every
  instrument: it grows with their number).
- ``log_call_filtered_ns``: one ``log.debug(...)`` call at the default level (filtered out),
  nanoseconds, the empty loop's cost subtracted.
- ``log_hot_path_calls``: log calls in the per-message code (venue protocol, translation,
  the client's read/write path, the runner's event handler, the journal bridge, the core)
  that are not on an error path (``except``) nor behind a debug/error-count guard. Must be 0.
"""

from __future__ import annotations

import ast
import logging
import statistics
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

from thalex_mm.bench.engine_load import cached_session, hundred_instruments

_LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical", "log"})
_LOGGER_NAMES = frozenset({"log", "logger", "_log", "LOG", "logging"})
_GUARD_WORDS = ("debug", "isEnabledFor", "_errors")

# module (relative to thalex_mm) -> the functions run per message (None: the whole module)
HOT_PATH: dict[str, frozenset[str] | None] = {
    "venue/thalex/protocol.py": None,
    "venue/thalex/translate.py": None,
    "venue/thalex/rpc.py": None,
    "venue/thalex/catalog.py": None,
    "venue/thalex/throttle.py": None,
    "venue/thalex/client.py": frozenset(
        {
            "_read_loop",
            "_frame_handler",
            "_write_loop",
            "_flush",
            "_kick",
            "send_actions",
            "_on_reply",
            "_emit_soon",
        }
    ),
    "app/runner.py": frozenset({"_on_event", "_on_order_update", "_on_fills", "_on_rejected"}),
    "app/journaling.py": None,
    "app/latency.py": None,
    "app/run_stats.py": None,
    "core/engine.py": None,
    "core/quoter.py": None,
    "core/order_manager.py": None,
    "core/mass_quote.py": None,
    "core/market_state.py": None,
    "core/risk.py": None,
    "core/position.py": None,
}


@dataclass(frozen=True, slots=True)
class LogCall:
    module: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} ({self.function})"


def _is_log_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    target = node.func.value
    return (
        node.func.attr in _LOG_METHODS
        and isinstance(target, ast.Name)
        and target.id in _LOGGER_NAMES
    )


def _guarded(stack: list[ast.AST]) -> bool:
    for parent in stack:
        if isinstance(parent, ast.ExceptHandler):
            return True
        if isinstance(parent, ast.If) and any(w in ast.unparse(parent.test) for w in _GUARD_WORDS):
            return True
    return False


def unguarded_log_calls(
    source: str, module: str, functions: frozenset[str] | None
) -> list[LogCall]:
    """Log calls in ``functions`` of ``source`` (None: anywhere) not on an error path or
    behind a debug / error-count guard."""
    found: list[LogCall] = []

    def visit(node: ast.AST, stack: list[ast.AST], function: str, hot: bool) -> None:
        # a top-level function or method decides for its whole body (nested ones included)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and function == "":
            hot = functions is None or node.name in functions
            function = node.name
        if hot and _is_log_call(node) and not _guarded(stack):
            found.append(LogCall(module, getattr(node, "lineno", 0), function or "<module>"))
        stack.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child, stack, function, hot)
        stack.pop()

    tree = ast.parse(source)
    for top in tree.body:
        if isinstance(top, ast.ClassDef):
            for item in top.body:
                visit(item, [], "", functions is None)
        else:
            visit(top, [], "", functions is None)
    return found


def hot_path_log_calls() -> list[LogCall]:
    """Unguarded log calls in the per-message modules of this installation."""
    root = resources.files("thalex_mm")
    found: list[LogCall] = []
    for module, functions in HOT_PATH.items():
        path = root.joinpath(module)
        if path.is_file():
            found.extend(unguarded_log_calls(path.read_text(encoding="utf-8"), module, functions))
    return found


def filtered_call_ns(calls: int = 200_000, rounds: int = 5) -> float:
    """ns per ``log.debug("...", x)`` under the default level (INFO), loop cost removed."""
    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.INFO)
    log = logging.getLogger("thalex_mm.bench.logs.probe")
    try:
        per_call: list[float] = []
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            for i in range(calls):
                log.debug("tick %s at %d", "BTC-PERPETUAL", i)
            t1 = time.perf_counter_ns()
            for _ in range(calls):
                pass
            t2 = time.perf_counter_ns()
            per_call.append(((t1 - t0) - (t2 - t1)) / calls)
        return statistics.median(per_call)
    finally:
        root.setLevel(saved)


def run(quick: bool) -> dict[str, float | int | str]:
    result: dict[str, Any] = cached_session(hundred_instruments(quick))
    msgs = max(int(result["md_msgs"]), 1)
    calls = hot_path_log_calls()
    out: dict[str, float | int | str] = {
        "log_bytes_per_10k_msgs": round(result["log_bytes"] * 10_000 / msgs, 1),
        "log_lines_per_10k_msgs": round(result["log_lines"] * 10_000 / msgs, 3),
        "log_max_record_bytes": int(result.get("log_max_record_bytes", 0)),
        "log_call_filtered_ns": round(filtered_call_ns(50_000 if quick else 500_000), 1),
        "log_hot_path_calls": len(calls),
    }
    if calls:
        out["log_hot_path_call_sites"] = " ".join(str(c) for c in calls)
    return out


if __name__ == "__main__":
    import sys

    for key, value in run(quick="--full" not in sys.argv).items():
        print(f"{key}: {value}")
