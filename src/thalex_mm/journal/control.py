"""The control block: a small shared memory-mapped file the producer and the drainer share.

It lets the producer (the engine's event loop) and the drainer (a thread or another
process) see each other's progress with plain memory loads and stores, never a syscall:

====== ======= =================================================================
offset  type    field
====== ======= =================================================================
0       8s      magic ``TMMJCTL1``
8       u64     committed position: end of the last complete frame (producer)
16      u64     drained position: end of the last frame in the sink (drainer)
24      u64     drainer heartbeat, CLOCK_MONOTONIC ns (drainer)
32      u32     length of the drainer's last error text (0: healthy)
36      200s    the error text (UTF-8)
256     u64     frames dropped by the drainer (undecodable payloads)
512     36s     journal id: names this segment directory in the sink's cursor table
====== ======= =================================================================

Positions pack (segment, offset) into one u64 (``segment.pack_position``), so each is
published with a single aligned store.
"""

from __future__ import annotations

import mmap
import os
import struct
import uuid
from pathlib import Path
from typing import Final

CONTROL_NAME: Final = "control"
SIZE: Final = 4096
MAGIC: Final = b"TMMJCTL1"
ERROR_MAX: Final = 200

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_COMMITTED: Final = 8
_DRAINED: Final = 16
_HEARTBEAT: Final = 24
_ERROR_LEN: Final = 32
_ERROR: Final = 36
_UNDECODABLE: Final = 256
_JOURNAL_ID: Final = 512


class Control:
    """Typed access to the control block of one segment directory."""

    __slots__ = ("mm",)

    def __init__(self, directory: Path) -> None:
        path = directory / CONTROL_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < SIZE:
                os.posix_fallocate(fd, 0, SIZE)
            self.mm = mmap.mmap(fd, SIZE, flags=mmap.MAP_SHARED)
        finally:
            os.close(fd)
        if self.mm[0:8] != MAGIC:
            self.mm[0:SIZE] = bytes(SIZE)
            self.mm[_JOURNAL_ID : _JOURNAL_ID + 36] = str(uuid.uuid4()).encode()
            self.mm[0:8] = MAGIC
            self.mm.flush()

    @property
    def journal_id(self) -> str:
        return bytes(self.mm[_JOURNAL_ID : _JOURNAL_ID + 36]).decode("ascii")

    @property
    def committed(self) -> int:
        value: int = _U64.unpack_from(self.mm, _COMMITTED)[0]
        return value

    @committed.setter
    def committed(self, position: int) -> None:
        _U64.pack_into(self.mm, _COMMITTED, position)

    @property
    def drained(self) -> int:
        value: int = _U64.unpack_from(self.mm, _DRAINED)[0]
        return value

    @drained.setter
    def drained(self, position: int) -> None:
        _U64.pack_into(self.mm, _DRAINED, position)

    @property
    def heartbeat_ns(self) -> int:
        value: int = _U64.unpack_from(self.mm, _HEARTBEAT)[0]
        return value

    @heartbeat_ns.setter
    def heartbeat_ns(self, value: int) -> None:
        _U64.pack_into(self.mm, _HEARTBEAT, value)

    @property
    def undecodable(self) -> int:
        value: int = _U64.unpack_from(self.mm, _UNDECODABLE)[0]
        return value

    @undecodable.setter
    def undecodable(self, value: int) -> None:
        _U64.pack_into(self.mm, _UNDECODABLE, value)

    @property
    def error(self) -> str:
        (length,) = _U32.unpack_from(self.mm, _ERROR_LEN)
        length = min(length, ERROR_MAX)
        return bytes(self.mm[_ERROR : _ERROR + length]).decode("utf-8", "replace")

    @error.setter
    def error(self, text: str) -> None:
        raw = text.encode("utf-8")[:ERROR_MAX]
        _U32.pack_into(self.mm, _ERROR_LEN, 0)
        self.mm[_ERROR : _ERROR + len(raw)] = raw
        _U32.pack_into(self.mm, _ERROR_LEN, len(raw))

    def close(self) -> None:
        if not self.mm.closed:
            self.mm.close()
