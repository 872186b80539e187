"""Warm start: the estimators' states go to the journal while running and come back at start.

σ, A and k need minutes of market data before they say much; a restarted engine that
resumes them quotes with what the last run knew instead of its cold defaults. The runner
journals ``Engine.estimator_states()`` every ``journal.estimator_interval_s`` and at stop;
at start the newest state per instrument, if at most ``run.warm_start_max_age_s`` old, is
given to ``Engine.restore_estimators`` before the engine sees its first event. The states
are opaque JSON here: only the core knows (and checks) what is inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thalex_mm.core.engine import Engine

# Above this many instruments the start line counts instead of listing each one.
DETAIL_MAX = 4


@dataclass(frozen=True, slots=True)
class SavedStates:
    """What the journal held at start: states young enough to use, and the others' ages."""

    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    ages_s: dict[str, float] = field(default_factory=dict)  # of the usable states
    too_old: dict[str, float] = field(default_factory=dict)  # instrument -> age, s
    max_age_s: float = 0.0
    off: str | None = None  # why there is no warm start at all (no journal, --no-warm-start)


def select_states(
    saved: dict[str, tuple[int, dict[str, Any]]], *, now_ns: int, max_age_s: float
) -> SavedStates:
    """Split the journal's newest state per instrument (``ts_ns``, state) by age."""
    states: dict[str, dict[str, Any]] = {}
    ages: dict[str, float] = {}
    too_old: dict[str, float] = {}
    for name, (ts_ns, state) in saved.items():
        age = max(0.0, (now_ns - ts_ns) / 1e9)
        if age > max_age_s:
            too_old[name] = age
        else:
            states[name], ages[name] = state, age
    return SavedStates(states, ages, too_old, max_age_s)


def read_saved_states(reader: Any, strategy: str, *, now_ns: int, max_age_s: float) -> SavedStates:
    """The journal's newest usable estimator state per instrument of ``strategy``."""
    from thalex_mm.journal.query import newest_estimator_states  # noqa: PLC0415

    saved = newest_estimator_states(reader, strategy)
    return select_states(saved, now_ns=now_ns, max_age_s=max_age_s)


def _fmt_sigma(sigma: float | None) -> str:
    return "warming up" if sigma is None else f"{sigma:.6g}"


def restore(engine: Engine, saved: SavedStates) -> str:
    """Give a just-built engine the usable states; the one start line saying what happened
    per instrument (σ, A, k restored, or why not)."""
    if saved.off is not None:
        return f"warm start: off ({saved.off})"
    names = list(engine.instruments)
    try:
        refused = engine.restore_estimators({n: s for n, s in saved.states.items() if n in names})
    except Exception as exc:  # a state the core did not expect: start (partly) cold, not fail
        return f"warm start: failed, some instruments may start cold ({exc!r})"
    estimates = engine.estimates()
    restored = [n for n in names if n in saved.states and n not in refused]
    too_old = [n for n in names if n in saved.too_old]
    missing = [n for n in names if n not in saved.states and n not in saved.too_old]
    if len(names) > DETAIL_MAX:
        parts = [f"restored {len(restored)} of {len(names)} instruments"]
        if too_old:
            parts.append(f"too old (> {saved.max_age_s:g} s) {len(too_old)}")
        if refused:
            parts.append(f"refused {len(refused)} (first: {next(iter(refused.values()))})")
        if missing:
            parts.append(f"none found {len(missing)}")
        return "warm start: " + ", ".join(parts)
    rows = []
    for name in names:
        if name in restored:
            sigma, a, k = estimates[name]
            rows.append(
                f"{name} restored sigma {_fmt_sigma(sigma)} A {a:.6g} k {k:.6g} "
                f"(saved {saved.ages_s[name]:.0f} s ago)"
            )
        elif name in refused:
            rows.append(f"{name} refused ({refused[name]})")
        elif name in too_old:
            rows.append(
                f"{name} too old (saved {saved.too_old[name]:.0f} s ago, max {saved.max_age_s:g} s)"
            )
        else:
            rows.append(f"{name} none found")
    return "warm start: " + "; ".join(rows)
