"""Order and trade ids are never reused by a restarted exchange (issue #16 defect 5)."""

from __future__ import annotations

from thalex_mm.domain import Side
from thalex_mm.exchange.engine import MatchingEngine, SessionRef, default_instruments
from thalex_mm.exchange.local import ExchangeConfig, LocalExchange

PERP = "BTC-PERPETUAL"
A = SessionRef("A", 1, persistent=False)
B = SessionRef("B", 2, persistent=True)


def trade_some(engine: MatchingEngine, rounds: int = 20) -> tuple[set[str], set[str]]:
    """(order ids, trade ids) of ``rounds`` resting bids each hit by a sell."""
    orders: set[str] = set()
    trades: set[str] = set()
    for i in range(rounds):
        bid = engine.insert(
            i, A, instrument_name=PERP, direction=Side.BUY, amount=0.01, price=70_000.0
        )
        hit = engine.insert(
            i, B, instrument_name=PERP, direction=Side.SELL, amount=0.01, price=70_000.0
        )
        assert bid.result is not None and hit.result is not None
        orders |= {bid.result.order_id, hit.result.order_id}
        trades |= {f.trade_id for f in hit.result.fills}
    assert len(orders) == 2 * rounds and len(trades) == rounds
    return orders, trades


def test_two_exchanges_started_in_sequence_share_no_order_or_trade_id() -> None:
    """The engine used to restart its counters at 1, so a restarted exchange's fills had the
    trade ids of the previous run's (and a client dropped them as duplicates)."""
    seen_orders: set[str] = set()
    seen_trades: set[str] = set()
    for _ in range(3):
        exchange = LocalExchange(ExchangeConfig(market=False))
        orders, trades = trade_some(exchange.engine)
        assert not orders & seen_orders and not trades & seen_trades
        seen_orders |= orders
        seen_trades |= trades


def test_ids_keep_the_thalex_formats() -> None:
    exchange = LocalExchange(ExchangeConfig(market=False))
    orders, trades = trade_some(exchange.engine, rounds=1)
    for order_id in orders:
        assert len(order_id) == 16 and int(order_id, 16) > 0
    for trade_id in trades:
        assert len(trade_id) == 32 and int(trade_id, 16) > 0


def test_a_later_epoch_starts_past_an_earlier_engines_ids() -> None:
    first = MatchingEngine(default_instruments(1), id_epoch=1_000)
    orders, _ = trade_some(first)  # 40 orders: 1001 … 1040
    later = MatchingEngine(default_instruments(1), id_epoch=1_040)
    again, _ = trade_some(later)
    assert not orders & again
