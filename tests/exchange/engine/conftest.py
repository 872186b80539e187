"""Shared fixtures: a fresh engine with a BTC perpetual and a few sessions."""

from __future__ import annotations

import pytest

from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.exchange.engine import (
    ExchangeInstrument,
    MatchingEngine,
    OrderSnapshot,
    OrderType,
    SessionRef,
)

PERP = "BTC-PERPETUAL"
MAKER_FEE = -0.0002
TAKER_FEE = 0.0005


def btc_perp() -> ExchangeInstrument:
    spec = InstrumentSpec(
        name=PERP,
        kind=InstrumentKind.PERPETUAL,
        underlying="BTCUSD",
        tick_size=1.0,
        amount_step=0.001,
        min_amount=0.001,
        product="FBTCUSD",
    )
    return ExchangeInstrument(spec, maker_fee_rate=MAKER_FEE, taker_fee_rate=TAKER_FEE)


class Desk:
    """Thin helpers so tests read like the wire calls."""

    def __init__(self) -> None:
        self.engine = MatchingEngine([btc_perp()], default_balance=100_000.0)
        self.now = 1_000
        self.a = SessionRef("A", 1, persistent=False)
        self.b = SessionRef("B", 2, persistent=True)
        self.c = SessionRef("C", 3, persistent=True)

    def tick(self) -> int:
        self.now += 1_000
        return self.now

    def limit(
        self, who: SessionRef, side: Side, price: float, amount: float, **kw: object
    ) -> OrderSnapshot:
        out = self.engine.insert(
            self.tick(),
            who,
            instrument_name=PERP,
            direction=side,
            amount=amount,
            price=price,
            **kw,  # type: ignore[arg-type]
        )
        assert out.error is None, out.error
        assert out.result is not None
        return out.result

    def market(self, who: SessionRef, side: Side, amount: float) -> OrderSnapshot:
        out = self.engine.insert(
            self.tick(),
            who,
            instrument_name=PERP,
            direction=side,
            amount=amount,
            order_type=OrderType.MARKET,
        )
        assert out.error is None, out.error
        assert out.result is not None
        return out.result


@pytest.fixture
def desk() -> Desk:
    return Desk()
