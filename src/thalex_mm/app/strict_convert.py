"""Convert plain data (parsed TOML) into typed config objects, rejecting unknown keys.

msgspec validates types and runs ``__post_init__`` checks, naming the path of a bad field,
but it silently ignores unknown keys on dataclasses. In a trading config a misspelt key
(``max_postion``) must not fall back to a default without a word, so this module walks the
data against the target type first and names any key the type does not have.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is wrong; ``path`` names the field (``instruments[0].risk.max_position``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'config'}: {message}" if path else message)
        self.path = path
        self.detail = message


def _field_names(tp: type) -> dict[str, Any] | None:
    """Field name -> type for dataclasses and msgspec Structs; None for anything else."""
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return {f.name: hints[f.name] for f in dataclasses.fields(tp)}
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        hints = typing.get_type_hints(tp)
        return {name: hints[name] for name in tp.__struct_fields__}
    return None


def _record_types(tp: Any) -> list[type]:
    """The dataclass/Struct types a value of type ``tp`` may be (through Optional/Union)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        found: list[type] = []
        for arg in typing.get_args(tp):
            found.extend(_record_types(arg))
        return found
    return [tp] if _field_names(tp) is not None else []


def _check_unknown(data: Any, tp: Any, path: str) -> None:
    origin = typing.get_origin(tp)
    if origin in (list, tuple) and isinstance(data, list):
        args = typing.get_args(tp)
        if args:
            for i, item in enumerate(data):
                item_tp = (
                    args[0]
                    if origin is list or args[-1] is Ellipsis
                    else args[min(i, len(args) - 1)]
                )
                _check_unknown(item, item_tp, f"{path}[{i}]")
        return
    if origin is dict and isinstance(data, dict):
        args = typing.get_args(tp)
        if len(args) == 2:
            for key, value in data.items():
                _check_unknown(value, args[1], f"{path}.{key}" if path else str(key))
        return
    if not isinstance(data, dict):
        return
    candidates = _record_types(tp)
    if len(candidates) != 1:
        return
    fields = _field_names(candidates[0])
    assert fields is not None
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(key_path, f"unknown field (known fields here: {known})")
        _check_unknown(value, fields[key], key_path)


def _msgspec_path(message: str) -> tuple[str, str]:
    """Split msgspec's "problem - at `$.a[0].b`" into (path, problem)."""
    marker = " - at `$"
    if marker in message and message.endswith("`"):
        problem, _, where = message.partition(marker)
        return where[:-1].lstrip("."), problem
    return "", message


def strict_convert(data: Any, tp: type[T]) -> T:
    """``msgspec.convert`` that also rejects unknown keys; raises ConfigError naming the field."""
    _check_unknown(data, tp, "")
    try:
        return msgspec.convert(data, tp, strict=False)
    except msgspec.ValidationError as exc:
        path, problem = _msgspec_path(str(exc))
        raise ConfigError(path, problem) from None
