"""Keeps secrets out of the journal: run metadata config goes through ``redact`` first."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

MASK: Final = "***"
_SECRET_KEY: Final = re.compile(r"key|secret|token|passw|private|credential|auth", re.IGNORECASE)


def is_secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.search(name))


def redact(config: Any) -> Any:
    """A copy of ``config`` with the value of every secret-looking key replaced by ``***``.

    Walks nested mappings and lists; a secret key's value is masked whatever its type.
    """
    if isinstance(config, Mapping):
        return {str(k): (MASK if is_secret_key(str(k)) else redact(v)) for k, v in config.items()}
    if isinstance(config, list | tuple):
        return [redact(v) for v in config]
    return config
