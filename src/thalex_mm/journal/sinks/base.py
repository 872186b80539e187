"""What a sink is, and how a journal URL picks one.

A sink receives batches of rows grouped by table together with the drain position they
bring the journal to. ``write`` must store rows and position atomically where the database
allows it (SQLite and PostgreSQL do: one transaction), which makes draining exactly-once;
re-inserting a row is ignored by the ``(run_id, seq)`` key either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from thalex_mm.errors import UserError

DEFAULT_URL = "sqlite:///data/journal.db"

Rows = dict[str, list[tuple[Any, ...]]]


class Sink(Protocol):
    """A database the drainer writes into. Used from one thread only."""

    url: str
    transactional: bool  # True: write() stores rows and cursor atomically

    def open(self) -> None:
        """Connect and create the schema if missing."""

    def read_cursor(self, journal_id: str) -> int | None:
        """The drained position stored for ``journal_id``, or None (unknown/unsupported)."""

    def write(self, rows: Rows, journal_id: str, position: int, now_ns: int) -> None:
        """Store ``rows`` and the new drained ``position`` (atomically if transactional)."""

    def close(self) -> None: ...


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel/path.db`` → ``rel/path.db``; ``sqlite:////abs/path.db`` → absolute."""
    parts = urlsplit(url)
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if parts.netloc or not path:
        raise UserError(
            f"journal URL {url!r}: expected sqlite:///relative/path.db or sqlite:////abs/path.db"
        )
    return Path(path)


def query_options(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def scheme_of(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("postgres", "postgresql"):
        return "postgresql"
    if scheme in ("sqlite", "questdb", "questdb+tcp", "questdb+http", "questdb+https"):
        return scheme
    raise UserError(
        f"journal URL {redact_url(url)!r}: unknown scheme {scheme!r} "
        "(expected sqlite://, postgresql:// or questdb://)"
    )


def make_sink(url: str) -> Sink:
    """The sink a journal URL names (not yet opened)."""
    scheme = scheme_of(url)
    if scheme == "sqlite":
        from thalex_mm.journal.sinks.sqlite import SqliteSink  # noqa: PLC0415

        return SqliteSink(url)
    if scheme == "postgresql":
        from thalex_mm.journal.sinks.postgres import PostgresSink  # noqa: PLC0415

        return PostgresSink(url)
    from thalex_mm.journal.sinks.questdb import QuestdbSink  # noqa: PLC0415

    return QuestdbSink(url)
