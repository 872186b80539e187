"""A fixed market-data rate for load tests: raw ticker/lwt feeds published at ``md_rate``.

Benchmarks need "10,000 msg/s" to mean exactly that, whatever the market does. With
``md_rate`` set, raw ``ticker``/``lwt`` feeds leave on-change publication (`PublicFeeds`
skips them) and `MdPacer.pace` publishes them round-robin, ``md_rate`` publications per
wall-clock second in aggregate (each one reaches every subscriber of that channel). A
publication carries the channel's current state; the changes it merged are counted as
``coalesced`` and a publication identical to the previous one as a ``repeat`` (step the
market at least as often as each channel is published to avoid repeats).

Sans-I/O: the caller passes the wall clock in.
"""

from __future__ import annotations

from thalex_mm.exchange.feeds import PublicFeeds

_NS = 1_000_000_000
MAX_BURST_S = 0.25  # after a stall, catch up at most this much time's worth at once


class MdPacer:
    """Spends ``rate`` publications per second of wall time over the paced feeds."""

    def __init__(self, feeds: PublicFeeds, rate: float, wall_ns: int) -> None:
        if not rate > 0:
            raise ValueError(f"md_rate must be positive, got {rate}")
        self.feeds = feeds
        self.rate = rate
        self._last_wall_ns = wall_ns
        self._credit = 0.0
        self._next = 0  # round-robin position in feeds.paced
        self.publications = 0
        self.repeats = 0
        self.coalesced = 0
        self.missed = 0  # slots given up after a stall (more than MAX_BURST_S behind)

    def hold(self, wall_ns: int) -> None:
        """Publish nothing for the time since the last call (flow control: a reader is
        backlogged); the slots are counted as missed, not caught up later in a burst."""
        elapsed = wall_ns - self._last_wall_ns
        if elapsed > 0:
            self._last_wall_ns = wall_ns
            if self.feeds.paced:
                self.missed += int(self.rate * elapsed / _NS)

    def pace(self, wall_ns: int, sim_ns: int) -> int:
        """Publish what the rate allows since the last call; returns publications made."""
        elapsed = wall_ns - self._last_wall_ns
        if elapsed <= 0:
            return 0
        self._last_wall_ns = wall_ns
        paced = self.feeds.paced
        if not paced:
            self._credit = 0.0
            return 0
        credit = self._credit + self.rate * elapsed / _NS
        cap = max(1.0, self.rate * MAX_BURST_S)
        if credit > cap:
            self.missed += int(credit - cap)
            credit = cap
        count = int(credit)
        self._credit = credit - count
        made = 0
        for _ in range(count):
            if self._next >= len(paced):
                self._next = 0
            feed = paced[self._next]
            self._next += 1
            published = self.feeds.publish_paced(feed, sim_ns)
            if published is None:  # no mark yet: nothing to show
                self.missed += 1
                continue
            made += 1
            self.repeats += published[0]
            self.coalesced += published[1]
        self.publications += made
        return made
