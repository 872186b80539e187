"""Keeps secrets out of the journal: run metadata config goes through ``redact`` first."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from thalex_mm.secrets import looks_like_key_material

MASK: Final = "***"
_SECRET_KEY: Final = re.compile(r"key|secret|token|passw|private|credential|auth", re.IGNORECASE)


def is_secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.search(name))


def redact(config: Any) -> Any:
    """A copy of ``config`` with the value of every secret-looking key replaced by ``***``.

    Walks nested mappings and lists; a secret key's value is masked whatever its type, and
    so is any string that looks like key material, whatever its key.
    """
    if isinstance(config, Mapping):
        return {str(k): (MASK if is_secret_key(str(k)) else redact(v)) for k, v in config.items()}
    if isinstance(config, list | tuple):
        return [redact(v) for v in config]
    if isinstance(config, str) and looks_like_key_material(config):
        return MASK
    return config
