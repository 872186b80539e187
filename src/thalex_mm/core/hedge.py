"""Delta hedge between two delta-one instruments (a quoted future and the perpetual, or the
reverse): when |position(quoted) + position(hedge)| exceeds the threshold, send one
immediate-or-cancel limit order in the hedge instrument for the whole net delta, at most one
at a time and not more often than ``min_interval_ms``.

The hedge order stays within the hedge instrument's own position limit (its
``risk.max_position`` / ``max_notional``): it is capped at the room left, and when there is
none the hedge is blocked; both are reported (``HedgeReport.reason``), a block once until
it clears. An unanswered hedge order is given up after ``reply_timeout_ns`` (its fills, if
any, still arrive on the order feed), so one lost reply cannot stop hedging for good.
"""

from __future__ import annotations

from thalex_mm.core.actions import (
    Action,
    Decision,
    GuardRejection,
    HedgeReport,
    Insert,
    TradingState,
)
from thalex_mm.core.config import HedgeConfig
from thalex_mm.core.guard import OrderGuard
from thalex_mm.core.ids import IdSource
from thalex_mm.core.market_state import MarketState
from thalex_mm.core.position import Position
from thalex_mm.core.risk import RiskManager
from thalex_mm.domain import Side

_NEVER = -(1 << 62)


class Hedger:
    __slots__ = (
        "_blocked",
        "_min_interval_ns",
        "cfg",
        "guard",
        "hedge_market",
        "hedge_position",
        "ids",
        "inflight_action_id",
        "inflight_sent_ns",
        "last_sent_ns",
        "quoted_position",
        "reply_timeout_ns",
        "risk",
    )

    def __init__(
        self,
        cfg: HedgeConfig,
        *,
        quoted_position: Position,
        hedge_position: Position,
        hedge_market: MarketState,
        guard: OrderGuard,
        risk: RiskManager,
        ids: IdSource,
    ) -> None:
        self.cfg = cfg
        self.quoted_position = quoted_position
        self.hedge_position = hedge_position
        self.hedge_market = hedge_market
        self.guard = guard
        self.risk = risk
        self.ids = ids
        self.inflight_action_id = 0
        self.inflight_sent_ns = _NEVER
        self.reply_timeout_ns = 5_000_000_000
        self.last_sent_ns = _NEVER
        self._min_interval_ns = int(cfg.min_interval_ms * 1_000_000)
        self._blocked = False  # the last check was blocked by the limit (reported once)

    def net_delta(self) -> float:
        """Net position of the pair in contracts (both instruments are delta one)."""
        return self.quoted_position.amount + self.hedge_position.amount

    def check(
        self, now_ns: int, max_age_ns: int, actions: list[Action], decisions: list[Decision]
    ) -> None:
        if self.inflight_action_id:
            if now_ns - self.inflight_sent_ns <= self.reply_timeout_ns:
                return
            self.inflight_action_id = 0  # no answer: give up on it (fills come on the feed)
        if now_ns - self.last_sent_ns < self._min_interval_ns:
            return
        if self.risk.state == TradingState.HALTED:
            return  # the kill switch means no orders at all in that instrument
        net = self.net_delta()
        if abs(net) <= self.cfg.threshold:
            return
        market = self.hedge_market
        if market.stale_reason(now_ns, max_age_ns) is not None:
            return
        spec = self.hedge_position.spec
        lots = spec.amount_to_lots_floor(abs(net))
        if lots < spec.min_lots:
            return
        side = Side.SELL if net > 0 else Side.BUY
        if side is Side.BUY:
            price = market.ask_ticks + self.cfg.cross_ticks
        else:
            price = market.bid_ticks - self.cfg.cross_ticks
        wanted = lots
        lots = min(lots, self.guard.max_lots)
        pos = self.hedge_position.lots
        limit = self.risk.limit_lots(self.hedge_position_mark())
        room = max(0, limit - pos) if side is Side.BUY else max(0, limit + pos)
        net_lots = wanted * (1 if net > 0 else -1)
        why = ""
        if lots > room:
            lots = room
            why = f"capped at the position limit of {spec.name} ({limit} lots, position {pos})"
            if lots < spec.min_lots:
                if not self._blocked:
                    self._blocked = True
                    why = "blocked: " + why
                    decisions.append(HedgeReport(now_ns, spec.name, net_lots, side, 0, why))
                self.last_sent_ns = now_ns
                return
        self._blocked = False
        reason = self.guard.check(price, lots)
        if reason is not None:
            decisions.append(GuardRejection(now_ns, spec.name, price, lots, reason))
            self.last_sent_ns = now_ns
            return
        aid = self.ids.action_id()
        actions.append(
            Insert(
                aid, spec.name, self.ids.client_order_id(), side, price, lots,
                post_only=False, label=self.cfg.label, immediate_or_cancel=True,
            )
        )  # fmt: skip
        decisions.append(HedgeReport(now_ns, spec.name, net_lots, side, lots, why))
        self.inflight_action_id = aid
        self.inflight_sent_ns = now_ns
        self.last_sent_ns = now_ns

    def hedge_position_mark(self) -> float:
        market = self.hedge_market
        mark = market.mark_price
        return mark if mark > 0.0 else market.mid()

    def on_answer(self, action_id: int) -> bool:
        """The hedge order was answered (filled, cancelled or rejected); True if it was ours."""
        if action_id and action_id == self.inflight_action_id:
            self.inflight_action_id = 0
            return True
        return False
