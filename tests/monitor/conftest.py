"""Helpers: snapshots written with chosen values, and a free TCP port."""

from __future__ import annotations

import math
import socket
from pathlib import Path
from typing import Any

from thalex_mm.monitor import layout
from thalex_mm.monitor.snapshot import SnapshotWriter

NAN = math.nan


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def values(section: layout.Section, **given: Any) -> list[Any]:
    """The section's values in order: ``given`` by name, else 0 (text: empty)."""
    out: list[Any] = []
    for f in section.fields:
        v = given.get(f.name)
        if f.fmt.endswith("s"):
            out.append(layout.encode_text(v or "", int(f.fmt[:-1])))
        elif f.count > 1:
            out += list(v) if v is not None else [0] * f.count
        else:
            out.append(0 if v is None else v)
    return out


def write_snapshot(path: Path, names: tuple[str, ...] = ("BTC-PERPETUAL",)) -> SnapshotWriter:
    return SnapshotWriter(
        path, run_id="test-run", instruments=[(n, 1.0, 0.001) for n in names], venue="ws://x"
    )
