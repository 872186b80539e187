"""Random input never crashes a session nor corrupts the books.

Hypothesis throws random JSON, random frames with real method names and plausible-but-wrong
params at two logged-in sessions. Afterwards: no request raised inside the exchange, every
frame sent back validates against the official schemas, and the engine's books are consistent
(not crossed; each level is exactly the sum of the open orders resting at that price; every
open order has filled + remaining = amount).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

from _protocol_kit import KEYS, PERP, Harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

METHODS = [
    "private/insert",
    "private/buy",
    "private/sell",
    "private/amend",
    "private/cancel",
    "private/cancel_all",
    "private/mass_quote",
    "private/set_mm_protection",
    "private/cancel_mass_quote",
    "private/cancel_session",
    "public/subscribe",
    "private/subscribe",
    "unsubscribe",
    "public/book",
    "public/ticker",
    "private/trade_history",
    "private/order_history",
    "no/such_method",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
prices = st.sampled_from([69_990, 70_000, 70_001, 70_010, 70_000.5, 0, -5, 1e300])
amounts = st.sampled_from([0.001, 0.01, 0.1, 0.0015, 0, -1, 3])
levels = st.lists(st.tuples(prices, amounts), max_size=4)
param_values = st.one_of(
    prices,
    amounts,
    st.sampled_from(["buy", "sell", PERP, "BTC-X", "FBTCUSD", "limit", "market"]),
    st.sampled_from(["good_till_cancelled", "immediate_or_cancel", "clamp", "ignore"]),
    st.integers(0, 5),
    st.booleans(),
    st.lists(st.sampled_from([f"book.{PERP}.none.all.raw", "session.orders", "x.y"]), max_size=2),
    st.fixed_dictionaries({"i": st.just(PERP), "b": levels, "a": levels}).map(lambda q: [q]),
    json_values,
)
param_names = st.sampled_from(
    [
        "direction",
        "instrument_name",
        "amount",
        "price",
        "order_type",
        "time_in_force",
        "client_order_id",
        "order_id",
        "post_only",
        "reject_post_only",
        "reduce_only",
        "collar",
        "quotes",
        "product",
        "trade_amount",
        "quote_amount",
        "channels",
        "label",
    ]
)
structured = st.builds(
    lambda method, params, request_id: json.dumps(
        {"method": method, "params": params, "id": request_id}
    ),
    st.sampled_from(METHODS),
    st.dictionaries(param_names, param_values, max_size=7),
    st.integers(0, 10**6) | st.none(),
)
good_prices = st.integers(69_990, 70_010).map(float)
good_amounts = st.sampled_from([0.001, 0.002, 0.005, 0.01])
options = {
    "client_order_id": st.integers(0, 5),
    "post_only": st.booleans(),
    "reject_post_only": st.booleans(),
    "reduce_only": st.booleans(),
    "time_in_force": st.sampled_from(["good_till_cancelled", "immediate_or_cancel"]),
    "order_type": st.sampled_from(["limit", "market"]),
}
order_params = st.fixed_dictionaries(
    {
        "direction": st.sampled_from(["buy", "sell"]),
        "instrument_name": st.just(PERP),
        "amount": good_amounts,
        "price": good_prices,
    },
    optional=options,
)
good_levels = st.lists(st.tuples(good_prices, good_amounts), max_size=3, unique_by=lambda x: x[0])
quote_side = (
    st.none() | good_levels | st.builds(lambda p, a: {"p": p, "a": a}, good_prices, good_amounts)
)
trading = st.one_of(
    order_params.map(lambda p: ("private/insert", p)),
    st.tuples(
        st.sampled_from(["private/amend"]),
        st.fixed_dictionaries(
            {"client_order_id": st.integers(0, 5), "price": good_prices, "amount": good_amounts}
        ),
    ),
    st.tuples(
        st.sampled_from(["private/cancel"]),
        st.fixed_dictionaries({"client_order_id": st.integers(0, 5)}),
    ),
    st.tuples(
        st.sampled_from(["private/mass_quote"]),
        st.fixed_dictionaries(
            {
                "quotes": st.lists(
                    st.fixed_dictionaries(
                        {"i": st.just(PERP)}, optional={"b": quote_side, "a": quote_side}
                    ),
                    max_size=2,
                )
            },
            optional={"post_only": st.booleans(), "reject_post_only": st.booleans()},
        ),
    ),
    st.just(("private/cancel_all", {})),
).map(lambda mp: json.dumps({"method": mp[0], "params": mp[1], "id": 1}))
frames = st.lists(
    st.one_of(
        trading,
        trading,
        trading,
        structured,
        json_values.map(json.dumps),
        st.binary(max_size=20),
        st.text(max_size=20),
    ),
    min_size=1,
    max_size=25,
)


def check_books(h: Harness) -> None:
    resting: dict[tuple[str, str, float], float] = defaultdict(float)
    for account in KEYS.values():
        for order in h.engine.open_orders(account):
            assert order.remaining_amount > 0
            assert math.isclose(order.filled_amount + order.remaining_amount, order.amount)
            assert str(order.status) in ("open", "partially_filled")
            assert order.price is not None
            side = "bids" if order.direction.wire == "buy" else "asks"
            resting[(order.instrument_name, side, order.price)] += order.remaining_amount
    for instrument in h.engine.instruments():
        book = h.engine.book(instrument.name, depth=None)
        assert book is not None
        if book.bids and book.asks:
            assert book.bids[0][0] < book.asks[0][0], "crossed book"
        assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
        assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
        for side, book_levels in (("bids", book.bids), ("asks", book.asks)):
            for price, amount in book_levels:
                expected = resting.pop((instrument.name, side, price), 0.0)
                assert math.isclose(amount, expected, abs_tol=1e-9), (instrument.name, price)
    assert not resting, f"open orders missing from the book: {resting}"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=frames, second=frames)
def test_random_frames_never_crash_and_keep_the_books_consistent(
    first: list[Any], second: list[Any]
) -> None:
    h = Harness(rate_scale=1000.0)
    a, b = h.open(), h.open()
    h.login(a, cod=True)
    h.login(b, "K000000002", cod=False)
    h.call(
        a, "private/set_mm_protection", {"product": "FBTCUSD", "trade_amount": 1, "quote_amount": 1}
    )
    private = ["session.orders", "account.orders", "account.portfolio", "account.trade_history"]
    h.send(a, "private/subscribe", {"channels": private}, id=2)
    h.send(b, "private/subscribe", {"channels": ["account.persistent_orders"]}, id=2)
    h.send(
        b,
        "public/subscribe",
        {"channels": [f"book.{PERP}.none.3.raw", "ticker.BTC-PERPETUAL.raw"]},
        id=3,
    )
    for i in range(max(len(first), len(second))):
        for session, batch in ((a, first), (b, second)):
            if i < len(batch):
                h.raw(session, batch[i])  # the harness validates every frame sent back
        h.advance(7)
    assert h.hub.internal_error_count == 0, h.hub.internal_errors
    check_books(h)
    h.hub.close_session(a, h.wall_ns)
    assert all(o.persistent for o in h.engine.open_orders("A000000001"))
    check_books(h)
