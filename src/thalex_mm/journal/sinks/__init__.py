"""Journal sinks: SQLite (default), PostgreSQL (COPY, TimescaleDB if present), QuestDB (ILP)."""

from thalex_mm.journal.sinks.base import DEFAULT_URL, Rows, Sink, make_sink

__all__ = ["DEFAULT_URL", "Rows", "Sink", "make_sink"]
