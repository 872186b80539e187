"""Risk states, limits, kill switch, recovery, take-profit, and the final guard."""

from __future__ import annotations

import math

import pytest
from _core_testkit import SPEC

from thalex_mm.core.actions import KillSwitch, RiskStateChanged, TradingState
from thalex_mm.core.config import RiskConfig
from thalex_mm.core.guard import OrderGuard
from thalex_mm.core.risk import RiskManager
from thalex_mm.domain import Side

S = 1_000_000_000
MARK = 1000.0


def make(**cfg: object) -> RiskManager:
    """A risk manager that has started (seen a mark) at zero PnL."""
    r = RiskManager(SPEC, RiskConfig(**cfg))  # type: ignore[arg-type]
    r.evaluate(0, 0, MARK, 0.0, 0.0, out=[])
    return r


def evaluate(r: RiskManager, now: int, pos: int = 0, total: float = 0.0, unreal: float = 0.0):
    out: list = []
    killed = r.evaluate(now, pos, MARK, total, unreal, out=out)
    return killed, out


def test_room_counts_the_position_on_each_side():
    r = make(max_position=0.010)  # 10 lots
    evaluate(r, 0, pos=4)
    assert (r.permit.buy_room, r.permit.sell_room) == (6, 14)
    assert r.state == TradingState.ACTIVE


def test_max_notional_tightens_the_limit():
    r = make(max_position=1.0, max_notional=5.0)  # 5 USD at 1000 = 0.005 = 5 lots
    assert r.limit_lots(MARK) == 5
    evaluate(r, 0, pos=5)
    assert r.state == TradingState.REDUCING
    assert not r.permit.allow_buy and r.permit.allow_sell


def test_reducing_at_the_limit_and_back():
    r = make(max_position=0.010, reduce_at=0.8)
    _, out = evaluate(r, 0, pos=-8)
    assert r.state == TradingState.REDUCING and r.permit.allow_buy and not r.permit.allow_sell
    assert any(isinstance(d, RiskStateChanged) for d in out)
    evaluate(r, 1, pos=-3)
    assert r.state == TradingState.ACTIVE and r.permit.allow_buy and r.permit.allow_sell


def test_max_loss_fires_the_kill_switch_and_halts():
    r = make(max_loss=100.0)
    killed, _ = evaluate(r, 0, total=-99.0)
    assert not killed
    killed, out = evaluate(r, 1, total=-100.5)
    assert killed and r.state == TradingState.HALTED
    assert any(isinstance(d, KillSwitch) for d in out)
    assert not r.permit.allow_buy and not r.permit.allow_sell
    killed, _ = evaluate(r, 2, total=-200.0)  # already halted: no second kill
    assert not killed and r.kills == 1


def test_loss_counts_from_the_first_mark_this_run_saw():
    r = RiskManager(SPEC, RiskConfig(max_loss=100.0))
    out: list = []
    assert not r.evaluate(0, 5, float("nan"), -500.0, 0.0, out=out)  # no mark yet
    assert not r.evaluate(1, 5, MARK, -500.0, -500.0, out=out)  # an old loss: reference
    assert not r.evaluate(2, 5, MARK, -599.0, -599.0, out=out)
    assert r.evaluate(3, 5, MARK, -600.5, -600.5, out=out)


def test_drawdown_from_the_peak():
    r = make(max_drawdown=50.0)
    evaluate(r, 0, total=80.0)
    killed, _ = evaluate(r, 1, total=40.0)
    assert not killed
    killed, _ = evaluate(r, 2, total=30.0)  # 50 below the 80 peak
    assert killed


def test_recovery_cooldown_then_stepwise_size():
    r = make(max_loss=10.0, cooldown_s=60, recovery_steps=(0.25, 0.5, 1.0), recovery_step_s=30)
    evaluate(r, 0, total=-11.0)
    assert r.state == TradingState.HALTED
    evaluate(r, 59 * S, total=-11.0)
    assert r.state == TradingState.HALTED
    evaluate(r, 60 * S, total=-11.0)  # cooldown over: re-enter, reference = -11
    assert r.state == TradingState.ACTIVE and r.permit.size_factor == 0.25
    evaluate(r, 89 * S, total=-12.0)
    assert r.permit.size_factor == 0.25
    evaluate(r, 90 * S, total=-12.0)
    assert r.permit.size_factor == 0.5
    evaluate(r, 120 * S, total=-12.0)
    assert r.permit.size_factor == 1.0
    killed, _ = evaluate(r, 121 * S, total=-21.5)  # 10.5 below the re-entry reference
    assert killed and r.kills == 2


def test_halt_becomes_permanent_after_max_kills():
    r = make(max_loss=10.0, cooldown_s=1, max_kills=2)
    evaluate(r, 0, total=-11.0)
    evaluate(r, 2 * S, total=-11.0)
    assert r.state == TradingState.ACTIVE
    evaluate(r, 3 * S, total=-22.0)
    assert r.state == TradingState.HALTED and r.permanent
    evaluate(r, 3600 * S, total=-22.0)
    assert r.state == TradingState.HALTED


def test_take_profit_reduces_with_the_opposite_side_until_done():
    r = make(max_position=1.0, take_profit=20.0, take_profit_fraction=0.5)
    evaluate(r, 0, pos=10, unreal=10.0)
    assert r.permit.take_profit_side is None
    evaluate(r, 1, pos=10, unreal=25.0)
    assert r.state == TradingState.REDUCING
    assert r.permit.take_profit_side is Side.SELL and r.permit.take_profit_lots == 5
    assert not r.permit.allow_buy and r.permit.allow_sell
    evaluate(r, 2, pos=7, unreal=18.0)  # partly done: 2 lots to go
    assert r.permit.take_profit_lots == 2
    evaluate(r, 3, pos=5, unreal=12.0)
    assert r.permit.take_profit_side is None and r.state == TradingState.ACTIVE


@pytest.mark.parametrize(
    ("price", "lots", "fragment"),
    [
        (math.nan, 1, "whole number of ticks"),
        (100.5, 1, "whole number of ticks"),
        (100.0, 1, "whole number of ticks"),
        (math.inf, 1, "whole number of ticks"),
        (-5, 1, "not positive"),
        (0, 1, "not positive"),
        (True, 1, "whole number of ticks"),
        (1000, 0, "below the minimum"),
        (1000, -3, "below the minimum"),
        (1000, 51, "above the maximum"),
        (1000, 2.0, "whole number of lots"),
        (1200, 1, "from the mark"),
    ],
)
def test_final_guard_refuses_bad_orders(price, lots, fragment):
    guard = OrderGuard(SPEC, max_order_lots=50, price_band=0.1)
    guard.reference_ticks = 1000.0
    reason = guard.check(price, lots)
    assert reason is not None and fragment in reason


def test_final_guard_accepts_good_orders():
    guard = OrderGuard(SPEC, max_order_lots=50, price_band=0.1)
    guard.reference_ticks = 1000.0
    assert guard.check(1099, 50) is None
    assert guard.check(901, SPEC.min_lots) is None


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"risk.max_position"):
        RiskConfig(max_position=-1)
    with pytest.raises(ValueError, match=r"risk.recovery_steps"):
        RiskConfig(recovery_steps=(0.5, 1.5))
    with pytest.raises(ValueError, match=r"risk.max_loss"):
        RiskConfig(max_loss=math.nan)
