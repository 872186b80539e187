"""Counters a load test reads from the local exchange: what was sent, dropped or merged.

Nothing is dropped silently: frames a write to an open connection failed for are
``frames_dropped``, frames still queued when a connection closed ``frames_unsent_at_close``;
a client that stops reading is disconnected once its socket
buffer passes the server's limit and counted in ``slow_consumer_disconnects``; paced market
data (``md_rate``) counts the changes each publication merged (``coalesced``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class SessionCounters:
    """Mutable per-connection counters (the session and the server add to them)."""

    frames_out: int = 0  # frames queued for the client: replies and notifications
    frames_written: int = 0  # frames handed to the socket
    bytes_written: int = 0
    frames_dropped: int = 0  # could not be written to an open connection (write failed)
    frames_unsent_at_close: int = 0  # still queued when the connection closed (either side)
    bytes_dropped: int = 0  # left in the socket buffer of a slow consumer when cut off
    coalesced: int = 0  # paced market data: changes merged into a publication
    max_write_buffer: int = 0  # high-water mark of the socket send buffer, bytes
    slow_consumer: bool = False  # disconnected for not reading

    def add(self, other: SessionCounters) -> None:
        for f in dataclasses.fields(self):
            if f.name == "max_write_buffer":
                self.max_write_buffer = max(self.max_write_buffer, other.max_write_buffer)
            elif f.name != "slow_consumer":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class SessionStats:
    session_id: int
    account: str | None
    open: bool
    counters: SessionCounters

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "session_id": self.session_id,
            "account": self.account,
            "open": self.open,
        }
        out.update(dataclasses.asdict(self.counters))
        return out


@dataclass(frozen=True, slots=True)
class ExchangeStats:
    """A snapshot: totals over every session since start, and the recent sessions."""

    md_rate: float
    publications: int  # public messages published (each reaches all subscribers)
    public_frames: int  # public notification frames queued to sessions
    paced_publications: int
    paced_repeats: int  # paced publications identical to the channel's previous one
    paced_coalesced: int
    paced_missed: int  # paced slots given up after a stall
    slow_consumer_disconnects: int
    flow_control_pauses: int  # clock ticks skipped while a client was backlogged
    totals: SessionCounters
    sessions: tuple[SessionStats, ...]  # open sessions and the latest closed ones

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("totals", "sessions")
        }
        out["totals"] = dataclasses.asdict(self.totals)
        out["sessions"] = [s.as_dict() for s in self.sessions]
        return out
