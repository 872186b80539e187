"""The first client order id of a run: above every id an earlier run used, journal or not.

The journal knows the last ids used, but a journal can be lost, unreadable (QuestDB is
write-only here) or corrupt; an id reused while an older order with it may be live would
make the venue's replies ambiguous. So the start is also floored by the wall clock: 10 ids
per millisecond since 2025-01-01, a rate no run reaches (the venue allows 50 order requests
per second), so a later run's floor is above all ids an earlier run could have used even
with no journal at all. Ids stay far below 2**53 (JSON-safe) for centuries.
"""

from __future__ import annotations

from typing import Final

EPOCH_NS: Final = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z
IDS_PER_MS: Final = 10


def client_id_floor(now_ns: int) -> int:
    """The lowest id a run starting at ``now_ns`` (wall clock) may use."""
    return max(1, (now_ns - EPOCH_NS) // 1_000_000 * IDS_PER_MS)


def first_client_order_id(from_journal: int, now_ns: int) -> int:
    """The journal's next id, unless the clock's floor is higher (the usual case)."""
    return max(from_journal, client_id_floor(now_ns))
