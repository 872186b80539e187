"""Risk for one instrument: the ACTIVE → REDUCING → HALTED state machine and its limits.

``RiskManager.evaluate`` runs on every quoting cycle with the current position and PnL, and
leaves its verdict in ``permit`` (reused, no allocation): which sides may quote, how many lots
each side's orders may add up to (pending orders count: a ladder that would take the position
past the limit if every order filled is trimmed), a size factor, and an optional take-profit
order. It returns True when the kill switch fires; the engine then cancels everything.

- ACTIVE: both sides quote, each within its room ``limit ∓ position``.
- REDUCING: |position| reached ``reduce_at`` × limit, or take-profit is working: only the side
  that reduces the position quotes (take-profit: one post-only, reduce-only order at the
  touch for ``take_profit_fraction`` of the position).
- HALTED: total PnL fell ``max_loss`` below its reference (the PnL when this run first saw a
  mark), or ``max_drawdown`` below its peak.
  Nothing quotes. After ``cooldown_s`` the instrument re-enters (ACTIVE) at reduced size,
  stepping through ``recovery_steps`` every ``recovery_step_s``; the loss and drawdown
  references restart at the re-entry PnL. After ``max_kills`` kills the halt is permanent.

Baselines: the references are PnL values of this run, so when the position is replaced from
outside (seeded from the venue after a restart, adopted after a discrepancy) the jump that
causes in the PnL is not a loss or a gain: ``shift_base`` moves every reference by it.
``run_base`` is the PnL at this run's start (moved the same way, never reset at re-entry):
the portfolio-wide ``max_total_loss`` measures from it.

Restriction (``restrict``, e.g. the journal's back-pressure): no new risk. Only the side that
reduces |position| may quote, and never for more than the position (no flip); REDUCING with
the reason until lifted. Each cause (``source``: the journal, an anomalous fill, ...) sets
and lifts its own reason, so lifting one never lifts another.
"""

from __future__ import annotations

import math

from thalex_mm.core.actions import Decision, KillSwitch, RiskStateChanged, TradingState
from thalex_mm.core.config import RiskConfig
from thalex_mm.domain import InstrumentSpec, Side

_S = 1_000_000_000
_ACTIVE = TradingState.ACTIVE
_REDUCING = TradingState.REDUCING
_HALTED = TradingState.HALTED


class RiskPermit:
    """The risk verdict for one cycle; the quoter shapes the model's ladder with it."""

    __slots__ = (
        "allow_buy",
        "allow_sell",
        "buy_room",
        "sell_room",
        "size_factor",
        "state",
        "take_profit_lots",
        "take_profit_side",
    )

    def __init__(self) -> None:
        self.state = TradingState.ACTIVE
        self.allow_buy = True
        self.allow_sell = True
        self.buy_room = 0  # lots the bids may add up to (worst case, pending included)
        self.sell_room = 0
        self.size_factor = 1.0
        self.take_profit_side: Side | None = None
        self.take_profit_lots = 0

    def close(self) -> None:
        self.allow_buy = self.allow_sell = False
        self.buy_room = self.sell_room = 0
        self.take_profit_side = None
        self.take_profit_lots = 0


class RiskManager:
    __slots__ = (
        "cfg",
        "halted_at_ns",
        "kills",
        "max_lots",
        "peak_pnl",
        "permanent",
        "permit",
        "pnl_base",
        "recovery_step",
        "restriction",
        "restrictions",
        "run_base",
        "spec",
        "started",
        "state",
        "step_started_ns",
        "tp_side",
        "tp_target_lots",
    )

    def __init__(self, spec: InstrumentSpec, cfg: RiskConfig) -> None:
        self.spec = spec
        self.cfg = cfg
        self.max_lots = spec.amount_to_lots_floor(cfg.max_position)
        self.state = TradingState.ACTIVE
        self.permit = RiskPermit()
        self.kills = 0
        self.permanent = False
        self.halted_at_ns = 0
        self.pnl_base = 0.0  # loss is measured from here: this run's first valid PnL
        self.peak_pnl = 0.0
        self.run_base = 0.0  # this run's first valid PnL (the portfolio limit's reference)
        self.restriction: str | None = None  # why no new risk may be opened, or None
        self.restrictions: dict[str, str] = {}  # source -> reason; ``restriction`` joins them
        self.started = False
        self.recovery_step = -1  # index into recovery_steps, -1 when not recovering
        self.step_started_ns = 0
        self.tp_side: Side | None = None
        self.tp_target_lots = 0

    def limit_lots(self, mark: float) -> int:
        """The position limit in lots: max position, and max notional at ``mark``."""
        limit = self.max_lots
        notional = self.cfg.max_notional
        if notional is not None and mark > 0.0:
            limit = min(limit, math.floor(notional / (mark * self.spec.amount_step) + 1e-9))
        return limit

    def _set_state(self, new: TradingState, now_ns: int, reason: str, out: list[Decision]) -> None:
        if new != self.state:
            out.append(RiskStateChanged(now_ns, self.spec.name, self.state, new, reason))
            self.state = new

    def halt(self, now_ns: int, reason: str, total_pnl: float, out: list[Decision]) -> None:
        """The kill switch: HALTED now (the caller cancels every order)."""
        self.kills += 1
        self.permanent = self.permanent or self.kills >= self.cfg.max_kills
        self.halted_at_ns = now_ns
        self.recovery_step = -1
        self.tp_side = None
        self._set_state(TradingState.HALTED, now_ns, reason, out)
        out.append(KillSwitch(now_ns, self.spec.name, reason, total_pnl))
        self.permit.close()
        self.permit.state = TradingState.HALTED

    def halt_permanently(
        self, now_ns: int, reason: str, total_pnl: float, out: list[Decision]
    ) -> None:
        self.permanent = True
        self.halt(now_ns, reason, total_pnl, out)

    def shift_base(self, delta: float) -> None:
        """The PnL jumped by ``delta`` because the position was replaced (seeded from the
        venue, adopted): not a result of trading, so every reference moves with it."""
        if self.started and math.isfinite(delta):
            self.pnl_base += delta
            self.peak_pnl += delta
            self.run_base += delta

    def restrict(
        self, now_ns: int, reason: str | None, out: list[Decision], source: str = ""
    ) -> None:
        """No new risk while ``source``'s ``reason`` is set (None lifts it); the state change
        is reported now, the permit follows on the next ``evaluate``."""
        reasons = self.restrictions
        if reasons.get(source) == reason:
            return
        if reason is None:
            del reasons[source]
        else:
            reasons[source] = reason
        combined = "; ".join(reasons.values()) if reasons else None
        if combined == self.restriction:
            return
        self.restriction = reason = combined
        old = self.state
        if old is not _HALTED:  # HALTED: nothing quotes; the restriction applies at re-entry
            self.state = _REDUCING if reason is not None else _ACTIVE
        why = f"no new risk: {reason}" if reason is not None else "no-new-risk restriction lifted"
        out.append(RiskStateChanged(now_ns, self.spec.name, old, self.state, why))

    def evaluate(
        self,
        now_ns: int,
        position_lots: int,
        mark: float,
        total_pnl: float,
        unrealised: float,
        *,
        out: list[Decision],
    ) -> bool:
        """Update ``permit`` for this cycle; True when the kill switch fired just now."""
        cfg = self.cfg
        permit = self.permit
        if not self.started:
            if not (mark > 0.0):
                permit.close()  # nothing can be valued (or quoted) before the first mark
                return False
            # A restarted engine may carry the venue's position with an old loss: the limits
            # apply to what happens from now on.
            self.started = True
            self.pnl_base = self.peak_pnl = self.run_base = total_pnl
        if self.state is _HALTED:
            if self.permanent or now_ns - self.halted_at_ns < cfg.cooldown_s * _S:
                permit.close()
                return False
            self.recovery_step = 0
            self.step_started_ns = now_ns
            self.pnl_base = self.peak_pnl = total_pnl
            self._set_state(TradingState.ACTIVE, now_ns, "cooldown over: re-entering", out)
        # --- kill switch ---
        if total_pnl > self.peak_pnl:  # noqa: PLR1730 - max() is slower on this hot path
            self.peak_pnl = total_pnl
        if cfg.max_loss is not None and total_pnl - self.pnl_base <= -cfg.max_loss:
            self.halt(
                now_ns, f"max loss {cfg.max_loss} reached (PnL {total_pnl:.2f})", total_pnl, out
            )
            return True
        if cfg.max_drawdown is not None and self.peak_pnl - total_pnl >= cfg.max_drawdown:
            reason = f"max drawdown {cfg.max_drawdown} reached (peak {self.peak_pnl:.2f})"
            self.halt(now_ns, reason, total_pnl, out)
            return True
        # --- recovery steps ---
        factor = 1.0
        if self.recovery_step >= 0:
            steps = cfg.recovery_steps
            if now_ns - self.step_started_ns >= cfg.recovery_step_s * _S:
                self.recovery_step += 1
                self.step_started_ns = now_ns
            if self.recovery_step >= len(steps):
                self.recovery_step = -1
            else:
                factor = steps[self.recovery_step]
        # --- position and notional limits, pending orders counted by the order manager ---
        limit = self.max_lots if cfg.max_notional is None else self.limit_lots(mark)
        pos = position_lots
        permit.buy_room = max(0, limit - pos)
        permit.sell_room = max(0, limit + pos)
        permit.size_factor = factor
        # --- take-profit ---
        if cfg.take_profit is not None:
            self._take_profit(pos, unrealised, cfg.take_profit)
        tp_side = self.tp_side
        restriction = self.restriction
        reducing = (
            tp_side is not None
            or restriction is not None
            or (pos != 0 and abs(pos) >= cfg.reduce_at * limit)
        )
        if reducing:
            if self.state is not _REDUCING:
                if restriction is not None:
                    why = f"no new risk: {restriction}"
                elif tp_side is not None:
                    why = "take-profit"
                else:
                    why = f"position {pos} lots at its limit"
                self._set_state(_REDUCING, now_ns, why, out)
            permit.allow_buy = pos < 0
            permit.allow_sell = pos > 0
            if restriction is not None:  # reduce at most to flat: never open the other way
                permit.buy_room = min(permit.buy_room, max(0, -pos))
                permit.sell_room = min(permit.sell_room, max(0, pos))
        else:
            if self.state is not _ACTIVE:
                self._set_state(_ACTIVE, now_ns, "position within limits", out)
            permit.allow_buy = permit.allow_sell = True
        permit.state = self.state
        permit.take_profit_side = tp_side
        permit.take_profit_lots = abs(pos - self.tp_target_lots) if tp_side is not None else 0
        return False

    def _take_profit(self, pos: int, unrealised: float, threshold: float) -> None:
        side = self.tp_side
        if side is not None:
            target = self.tp_target_lots
            done = (pos <= target) if side is Side.SELL else (pos >= target)
            if done or pos == 0 or unrealised <= 0.0:
                self.tp_side = None
            return
        if pos != 0 and unrealised >= threshold:
            lots = math.ceil(abs(pos) * self.cfg.take_profit_fraction)
            lots = min(abs(pos), max(lots, self.spec.min_lots))
            self.tp_side = Side.SELL if pos > 0 else Side.BUY
            self.tp_target_lots = pos - lots if pos > 0 else pos + lots
