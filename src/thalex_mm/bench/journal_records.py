"""The records the journal benchmarks append: the engine's usual mix of kinds and sizes."""

from __future__ import annotations

from thalex_mm.journal.records import Fill, OrderAction, QuoteDecision, Record


def sample_records(n: int) -> list[Record]:
    """A realistic mix: a quote decision with a 3-level ladder, an order action, a fill."""
    out: list[Record] = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append(
                QuoteDecision(
                    ts_ns=i,
                    strategy="bench",
                    instrument="BTC-PERPETUAL",
                    model="glft",
                    mid=65000.0 + i,
                    sigma=0.51,
                    a=140.0,
                    k=1.5,
                    q=0.3,
                    gamma=0.1,
                    reservation=64999.5,
                    spread=12.5,
                    bids=[[64990.0, 0.1], [64985.0, 0.2], [64980.0, 0.3]],
                    asks=[[65010.0, 0.1], [65015.0, 0.2], [65020.0, 0.3]],
                )
            )
        elif kind == 1:
            out.append(
                OrderAction(
                    ts_ns=i,
                    strategy="bench",
                    instrument="BTC-PERPETUAL",
                    action="amend",
                    client_order_id=i,
                    order_id=f"order-{i}",
                    side=1,
                    price=64990.0,
                    amount=0.1,
                    post_only=True,
                )
            )
        else:
            out.append(
                Fill(
                    ts_ns=i,
                    strategy="bench",
                    instrument="BTC-PERPETUAL",
                    trade_id=f"t{i}",
                    order_id=f"order-{i}",
                    client_order_id=i,
                    side=-1,
                    price=65010.0,
                    amount=0.1,
                    fee=0.0001,
                    maker_taker="maker",
                )
            )
    return out
