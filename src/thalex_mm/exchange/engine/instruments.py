"""Instruments the local exchange lists, with the exchange-only numbers the engine needs."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from thalex_mm.domain import InstrumentKind, InstrumentSpec
from thalex_mm.exchange.fees import (
    DEFAULT_MAKER_FEE_RATE,
    DEFAULT_TAKER_FEE_RATE,
    check_pair,
    check_rate,
)

_NS = 1_000_000_000
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True, slots=True)
class ExchangeInstrument:
    """A listed instrument: the shared spec plus fees, collar and margin the venue applies.

    Fee rates are fractions of notional (price × amount); a negative maker rate is a rebate.
    The collar band is mark × (1 ± collar_fraction): bids above `collar_high` and asks below
    `collar_low` breach it.
    """

    spec: InstrumentSpec
    maker_fee_rate: float = DEFAULT_MAKER_FEE_RATE
    taker_fee_rate: float = DEFAULT_TAKER_FEE_RATE
    collar_fraction: float = 0.05
    initial_margin_rate: float = 0.01
    create_time_ns: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.collar_fraction < 1:
            raise ValueError(f"{self.name}: collar_fraction must be in (0, 1)")
        if not 0 <= self.initial_margin_rate <= 1:
            raise ValueError(f"{self.name}: initial_margin_rate must be in [0, 1]")
        check_rate(self.maker_fee_rate, f"{self.name}: maker_fee_rate")
        check_rate(self.taker_fee_rate, f"{self.name}: taker_fee_rate")
        check_pair(self.maker_fee_rate, self.taker_fee_rate, f"{self.name}: ")

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_perpetual(self) -> bool:
        return self.spec.kind is InstrumentKind.PERPETUAL


def _last_friday_0800(year: int, month: int) -> dt.datetime:
    last_day = calendar.monthrange(year, month)[1]
    day = dt.date(year, month, last_day)
    while day.weekday() != calendar.FRIDAY:
        day -= dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, 8, tzinfo=dt.UTC)


def quarterly_expiry_after(now_ns: int, min_days: int = 60) -> dt.datetime:
    """The first quarterly expiry (last Friday of Mar/Jun/Sep/Dec, 08:00 UTC) ≥ min_days out."""
    now = dt.datetime.fromtimestamp(now_ns / _NS, tz=dt.UTC)
    year, month = now.year, now.month
    while True:
        if month % 3 == 0:
            expiry = _last_friday_0800(year, month)
            if expiry - now >= dt.timedelta(days=min_days):
                return expiry
        month += 1
        if month > 12:
            month, year = 1, year + 1


def future_name(underlying_prefix: str, expiry: dt.datetime) -> str:
    """Thalex's dated-future name, e.g. BTC-27MAR26."""
    return f"{underlying_prefix}-{expiry.day:02d}{_MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"


def default_instruments(now_ns: int) -> list[ExchangeInstrument]:
    """BTC-PERPETUAL, the next quarterly BTC future (≥ 60 days out) and ETH-PERPETUAL.

    Specs follow Thalex's contract table (protocol.md §2.10): BTC tick 1 / volume tick 0.001 /
    min 0.001; ETH tick 0.1 / volume tick 0.01 / min 0.01.
    """
    expiry = quarterly_expiry_after(now_ns)
    created = now_ns
    return [
        ExchangeInstrument(
            InstrumentSpec(
                name="BTC-PERPETUAL",
                kind=InstrumentKind.PERPETUAL,
                underlying="BTCUSD",
                tick_size=1.0,
                amount_step=0.001,
                min_amount=0.001,
                product="FBTCUSD",
            ),
            create_time_ns=created,
        ),
        ExchangeInstrument(
            InstrumentSpec(
                name=future_name("BTC", expiry),
                kind=InstrumentKind.FUTURE,
                underlying="BTCUSD",
                tick_size=1.0,
                amount_step=0.001,
                min_amount=0.001,
                product="FBTCUSD",
                expiry_ts=expiry.timestamp(),
            ),
            create_time_ns=created,
        ),
        ExchangeInstrument(
            InstrumentSpec(
                name="ETH-PERPETUAL",
                kind=InstrumentKind.PERPETUAL,
                underlying="ETHUSD",
                tick_size=0.1,
                amount_step=0.01,
                min_amount=0.01,
                product="FETHUSD",
            ),
            create_time_ns=created,
        ),
    ]


SYNTHETIC_PREFIX = "SYN"
MAX_SYNTHETIC = 999


def synthetic_underlying(number: int) -> str:
    """The index of the ``number``-th synthetic perpetual, e.g. SYN001USD."""
    return f"{SYNTHETIC_PREFIX}{number:03d}USD"


def synthetic_index_price(number: int) -> float:
    """A distinct, deterministic starting index per synthetic underlying (1,025 … 25,975)."""
    return 1_000.0 + 25.0 * number


def synthetic_perpetuals(count: int, now_ns: int) -> list[ExchangeInstrument]:
    """``count`` extra perpetuals for load tests: SYN001-PERPETUAL, … on their own index
    (SYN001USD) and product group (FSYN001USD), with ETH's contract specs (tick 0.1,
    volume tick 0.01, min 0.01)."""
    if not 0 <= count <= MAX_SYNTHETIC:
        raise ValueError(f"extra_instruments must be 0..{MAX_SYNTHETIC}, got {count}")
    out: list[ExchangeInstrument] = []
    for number in range(1, count + 1):
        underlying = synthetic_underlying(number)
        out.append(
            ExchangeInstrument(
                InstrumentSpec(
                    name=f"{SYNTHETIC_PREFIX}{number:03d}-PERPETUAL",
                    kind=InstrumentKind.PERPETUAL,
                    underlying=underlying,
                    tick_size=0.1,
                    amount_step=0.01,
                    min_amount=0.01,
                    product=f"F{underlying}",
                ),
                create_time_ns=now_ns,
            )
        )
    return out
