"""Helpers for the estimators' to_state/from_state (plain JSON-able dicts)."""

from __future__ import annotations

import math
from typing import Any


def expect_kind(state: dict[str, Any], kind: str, version: int = 1) -> None:
    """Raise ValueError unless ``state`` is a dict written by ``kind`` at ``version``."""
    if not isinstance(state, dict):
        raise ValueError(f"{kind} state must be a dict, got {type(state).__name__}")
    if state.get("kind") != kind:
        raise ValueError(f"state is for {state.get('kind')!r}, expected {kind!r}")
    if state.get("version") != version:
        raise ValueError(f"{kind} state version {state.get('version')!r} is not {version}")


def get_float(state: dict[str, Any], key: str, *, allow_none: bool = False) -> float | None:
    """A finite float field (or None when allowed); ValueError naming the field otherwise."""
    value = state.get(key)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"state field {key!r} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"state field {key!r} must be finite, got {value!r}")
    return float(value)


def req_float(state: dict[str, Any], key: str) -> float:
    value = get_float(state, key)
    assert value is not None  # allow_none is False
    return value


def get_int(state: dict[str, Any], key: str, *, allow_none: bool = False) -> int | None:
    value = state.get(key)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"state field {key!r} must be an integer, got {value!r}")
    return value


def req_int(state: dict[str, Any], key: str) -> int:
    value = get_int(state, key)
    assert value is not None
    return value


def get_float_list(state: dict[str, Any], key: str) -> list[float]:
    value = state.get(key)
    if not isinstance(value, list):
        raise ValueError(f"state field {key!r} must be a list, got {type(value).__name__}")
    out: list[float] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise ValueError(f"state field {key!r} holds a non-number {item!r}")
        out.append(float(item))
    return out
