"""Every frame, however broken, gets exactly one JSON-RPC reply in valid UTF-8 JSON.

Hypothesis sends random bytes, random text and valid requests mutated byte by byte (flipped,
inserted, deleted, truncated), as text and as binary frames, to a logged-in session. Nothing
may raise out of the session, no request may become an internal error, every frame sent back
must be strict UTF-8 JSON, and the session must still answer afterwards. Bounded to a few
seconds (issue #16: invalid UTF-8 used to kill the connection).
"""

from __future__ import annotations

import json
from typing import Any

from _protocol_kit import PERP, Harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VALID = [
    {"method": "public/system_info", "id": 1, "params": {}},
    {"method": "public/ticker", "id": "t-1", "params": {"instrument_name": PERP}},
    {"method": "public/book", "id": 2, "params": {"instrument_name": PERP}},
    {
        "method": "private/insert",
        "id": 3,
        "params": {
            "direction": "buy",
            "instrument_name": PERP,
            "amount": 0.001,
            "price": 69_000,
            "client_order_id": 7,
            "label": "fuzz",
            "post_only": True,
        },
    },
    {
        "method": "private/amend",
        "id": 4,
        "params": {"client_order_id": 7, "price": 69_001.0, "amount": 0.002},
    },
    {"method": "private/cancel", "id": [5], "params": {"client_order_id": 7}},
    {"method": "private/subscribe", "id": 6, "params": {"channels": ["session.orders"]}},
    {"method": "public/subscribe", "id": 7, "params": {"channels": [f"lwt.{PERP}.raw"]}},
    {"method": "public/login", "id": 8, "params": {"token": "a.b.c"}},
    {
        "method": "private/mass_quote",
        "id": 9,
        "params": {"quotes": [{"i": PERP, "b": {"p": 68_000, "a": 0.001}}]},
    },
]
VALID_BYTES = [json.dumps(r, separators=(",", ":")).encode() for r in VALID]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid request with a few byte-level edits."""
    data = bytearray(draw(st.sampled_from(VALID_BYTES)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=3))
        elif kind == "delete" and data:
            del data[at]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


def as_text(data: bytes) -> str:
    """What a text frame can carry: the bytes as UTF-8, invalid sequences replaced."""
    return data.decode("utf-8", errors="replace")


frames = st.one_of(
    mutated(),
    mutated().map(as_text),
    st.binary(max_size=64),
    st.text(max_size=64),
    st.sampled_from(VALID_BYTES),
)


def replies(h: Harness, session: Any, data: str | bytes) -> list[dict[str, Any]]:
    session.receive(data, h.wall_ns)
    h.hub.take_ready()
    out = []
    for raw in session.take_output():
        message = json.loads(raw.decode("utf-8"))  # strict UTF-8, then JSON
        assert isinstance(message, dict)
        out.append(message)
    return out


_SHARED: dict[str, Any] = {}


def logged_in() -> tuple[Harness, Any]:
    """One harness and session for all examples (a login signs and verifies RSA: slow);
    what earlier examples left behind (orders, subscriptions) only widens the input."""
    if not _SHARED:
        h = Harness(rate_scale=1000.0)
        session = h.open()
        h.login(session)
        _SHARED.update(h=h, session=session)
    return _SHARED["h"], _SHARED["session"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(frames, min_size=1, max_size=5))
def test_any_frame_gets_one_reply_in_valid_utf8_json(batch: list[str | bytes]) -> None:
    h, session = logged_in()
    for data in batch:
        out = replies(h, session, data)
        answers = [m for m in out if "channel_name" not in m]
        assert len(answers) == 1, (data, out)
        assert ("result" in answers[0]) != ("error" in answers[0]), answers[0]
        h.wall_ns += 1_000_000
    assert h.hub.internal_error_count == 0, h.hub.internal_errors
    assert not session.closed
    (alive,) = replies(h, session, VALID_BYTES[0])
    assert alive["result"]["environment"] == "testnet"
