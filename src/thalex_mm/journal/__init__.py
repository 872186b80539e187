"""The journal: a durable, off-loop record of every order, fill and decision.

Use ``open_journal(url)`` at start-up (it recovers what a killed run left behind), then
``journal.append(record)`` on the hot path, ``journal.backpressure`` to know when to stop
opening risk, and ``journal.close(reason)`` at the end. Read back with ``journal.query``.
"""

from thalex_mm.journal.directory import JournalError
from thalex_mm.journal.journal import Journal, JournalStats, open_journal
from thalex_mm.journal.records import (
    EstimatorState,
    Fill,
    MarketSnapshot,
    OrderAction,
    OrderUpdate,
    PositionSnapshot,
    QuoteDecision,
    Record,
    RiskEvent,
    RunStart,
    RunStop,
)
from thalex_mm.journal.settings import JournalSettings
from thalex_mm.journal.sinks.base import DEFAULT_URL

__all__ = [
    "DEFAULT_URL",
    "EstimatorState",
    "Fill",
    "Journal",
    "JournalError",
    "JournalSettings",
    "JournalStats",
    "MarketSnapshot",
    "OrderAction",
    "OrderUpdate",
    "PositionSnapshot",
    "QuoteDecision",
    "Record",
    "RiskEvent",
    "RunStart",
    "RunStop",
    "open_journal",
]
