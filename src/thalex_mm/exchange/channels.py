"""Subscription channel names: parsing and validation (protocol.md §3).

A channel name is turned into a `ChannelSpec` once, at subscribe time; everything after that
works on the spec. Unknown or malformed names are a `ChannelError` carrying the error code and
a message that names the problem.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from thalex_mm.venue.thalex.codes import ErrorCode

_MS = 1_000_000

DELAYS_NS: dict[str, int] = {
    "raw": 0,
    "100ms": 100 * _MS,
    "200ms": 200 * _MS,
    "500ms": 500 * _MS,
    "1000ms": 1000 * _MS,
    "5000ms": 5000 * _MS,
    "60000ms": 60000 * _MS,
}
MAX_BOOK_LEVELS = 1000
RECENT_TRADE_CATEGORIES = ("all", "options", "future_rolls")


class ChannelKind(enum.Enum):
    # public
    TICKER = "ticker"
    LWT = "lwt"
    BOOK = "book"
    PRICE_INDEX = "price_index"
    RECENT_TRADES = "recent_trades"
    INSTRUMENTS = "instruments"
    SYSTEM = "system"
    # private (the name is the whole channel name)
    SESSION_ORDERS = "session.orders"
    ACCOUNT_ORDERS = "account.orders"
    PERSISTENT_ORDERS = "account.persistent_orders"
    PORTFOLIO = "account.portfolio"
    TRADE_HISTORY = "account.trade_history"
    ORDER_HISTORY = "account.order_history"
    SUMMARY = "account.summary"
    MM_PROTECTION = "session.mm_protection"

    @property
    def private(self) -> bool:
        return "." in self.value


PRIVATE_KINDS: dict[str, ChannelKind] = {k.value: k for k in ChannelKind if k.private}


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A parsed channel. ``target`` is the instrument (or underlying) it is about."""

    name: str
    kind: ChannelKind
    target: str = ""
    delay_ns: int = 0
    grouping: float | None = None  # book price grouping; None = "none"
    nlevels: int | None = None  # book depth; None = "all"
    single_instrument: bool = True  # recent_trades: one instrument or a whole underlying

    @property
    def private(self) -> bool:
        return self.kind.private


class ChannelError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _bad(name: str, why: str) -> ChannelError:
    shown = name if len(name) <= 80 else name[:77] + "..."
    return ChannelError(ErrorCode.INVALID_REQUEST, f"invalid channel {shown!r}: {why}")


def _delay(name: str, text: str) -> int:
    delay = DELAYS_NS.get(text)
    if delay is None:
        raise _bad(name, f"delay must be one of {', '.join(DELAYS_NS)}")
    return delay


def _instrument(name: str, text: str, tick_sizes: Mapping[str, float]) -> float:
    tick = tick_sizes.get(text)
    if tick is None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ChannelError(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {shown!r}")
    return tick


def parse_channel(
    name: str, tick_sizes: Mapping[str, float], underlyings: Collection[str]
) -> ChannelSpec:
    """Parse and validate one channel name against the listed instruments and underlyings."""
    private = PRIVATE_KINDS.get(name)
    if private is not None:
        return ChannelSpec(name=name, kind=private)
    if name == "instruments":
        return ChannelSpec(name=name, kind=ChannelKind.INSTRUMENTS)
    if name == "system":
        return ChannelSpec(name=name, kind=ChannelKind.SYSTEM)
    head, _, rest = name.partition(".")
    parts = rest.split(".") if rest else []
    if head in ("ticker", "lwt"):
        if len(parts) != 2:
            raise _bad(name, f"expected {head}.<instrument>.<delay>")
        _instrument(name, parts[0], tick_sizes)
        kind = ChannelKind.TICKER if head == "ticker" else ChannelKind.LWT
        return ChannelSpec(name=name, kind=kind, target=parts[0], delay_ns=_delay(name, parts[1]))
    if head == "book":
        if len(parts) < 4:
            raise _bad(name, "expected book.<instrument>.<grouping>.<nlevels>.<delay>")
        # The grouping may itself contain a dot (e.g. "0.5"): instrument first, the rest last.
        instrument, nlevels_text, delay_text = parts[0], parts[-2], parts[-1]
        grouping_text = ".".join(parts[1:-2])
        tick = _instrument(name, instrument, tick_sizes)
        return ChannelSpec(
            name=name,
            kind=ChannelKind.BOOK,
            target=instrument,
            delay_ns=_delay(name, delay_text),
            grouping=_grouping(name, grouping_text, tick),
            nlevels=_nlevels(name, nlevels_text),
        )
    if head == "price_index":
        if len(parts) != 1 or parts[0] not in underlyings:
            raise ChannelError(
                ErrorCode.UNKNOWN_INSTRUMENT,
                f"invalid channel {name!r}: unknown underlying (have {', '.join(underlyings)})",
            )
        return ChannelSpec(name=name, kind=ChannelKind.PRICE_INDEX, target=parts[0])
    if head == "recent_trades":
        if len(parts) != 2:
            raise _bad(name, "expected recent_trades.<target>.<category>")
        target, category = parts
        if category == "single":
            _instrument(name, target, tick_sizes)
            return ChannelSpec(name=name, kind=ChannelKind.RECENT_TRADES, target=target)
        if category not in RECENT_TRADE_CATEGORIES:
            raise _bad(name, "category must be single, all, options or future_rolls")
        if target not in underlyings:
            raise _bad(name, f"{category!r} needs an underlying such as BTCUSD")
        return ChannelSpec(
            name=name,
            kind=ChannelKind.RECENT_TRADES,
            target=target if category == "all" else "",  # no options or rolls are listed
            single_instrument=False,
        )
    raise _bad(name, "unknown or unsupported channel")


def _grouping(name: str, text: str, tick: float) -> float | None:
    if text == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise _bad(name, "grouping must be 'none' or a price step") from None
    if not (math.isfinite(value) and value > 0):
        raise _bad(name, "grouping must be a positive price step")
    ratio = round(value, 8) / tick
    if ratio < 1 - 1e-6 or abs(ratio - round(ratio)) > 1e-6:
        raise _bad(name, f"grouping must be a multiple of the tick size {tick:g}")
    return None if round(ratio) == 1 else value


def _nlevels(name: str, text: str) -> int | None:
    if text == "all":
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_BOOK_LEVELS:
        raise _bad(name, f"nlevels must be 'all' or 1..{MAX_BOOK_LEVELS}")
    return int(text)
