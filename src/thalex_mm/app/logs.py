"""Logging that never blocks the event loop.

Every record goes through a ``QueueHandler`` into an in-memory queue; a ``QueueListener``
thread does the formatting and the writing. The hot path logs nothing at the default level:
status is reported as periodic aggregates by the runner.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
import time
from typing import TextIO

from thalex_mm.secrets import scrub

_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)-5s %(name)s: %(message)s"
_DATEFMT = "%Y-%m-%dT%H:%M:%S"


def _utc(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


class _UTCFormatter(logging.Formatter):
    """UTC times; key material in a message (or its traceback) is never written out."""

    converter = staticmethod(_utc)

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class QueueLogging:
    """Installs queue-based logging on the root logger; ``stop()`` flushes and restores."""

    def __init__(self, *, verbose: bool = False, stream: TextIO | None = None) -> None:
        self._queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        target = logging.StreamHandler(stream if stream is not None else sys.stderr)
        target.setFormatter(_UTCFormatter(_FORMAT, _DATEFMT))
        self._listener = logging.handlers.QueueListener(self._queue, target)
        self._handler = logging.handlers.QueueHandler(self._queue)
        self._root = logging.getLogger()
        self._saved_handlers = list(self._root.handlers)
        self._saved_level = self._root.level
        self.level = logging.DEBUG if verbose else logging.INFO

    def start(self) -> QueueLogging:
        self._root.handlers = [self._handler]
        self._root.setLevel(self.level)
        # Chatty libraries stay quiet unless asked for.
        for name in ("websockets", "asyncio"):
            logging.getLogger(name).setLevel(
                logging.DEBUG if self.level <= logging.DEBUG else logging.WARNING
            )
        self._listener.start()
        return self

    def stop(self) -> None:
        self._listener.stop()
        self._root.handlers = self._saved_handlers
        self._root.setLevel(self._saved_level)

    def __enter__(self) -> QueueLogging:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
