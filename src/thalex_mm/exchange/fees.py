"""Maker and taker fee rates of the local exchange: exchange-wide, overridable per instrument.

Rates are fractions of notional (price × amount); a negative maker rate is a rebate. Kept out
of `engine/` so the run config (`app/settings.py`) can validate `[local_exchange]` with the
same rules without importing the matching engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAKER_FEE_RATE = 0.0001  # 1 bp
DEFAULT_TAKER_FEE_RATE = 0.0003  # 3 bp
MAX_FEE_RATE = 0.01  # 1 % of notional: anything larger is a typo (bp vs fraction)
FEE_FIELDS = ("maker_fee_rate", "taker_fee_rate")


def check_rate(value: object, name: str) -> float:
    """A finite number within ±1 % (taker: 0..1 %); ValueError names ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    low = 0.0 if name.endswith("taker_fee_rate") else -MAX_FEE_RATE
    if not low <= value <= MAX_FEE_RATE:
        raise ValueError(f"{name} must be in [{low:g}, {MAX_FEE_RATE:g}], got {value!r}")
    return float(value)


def check_pair(maker: float, taker: float, where: str) -> None:
    """A rebate larger than the taker fee would pay an account for trading with itself (the
    exchange has no self-trade prevention), so maker + taker must not be negative."""
    if maker + taker < 0:
        raise ValueError(
            f"{where}maker_fee_rate {maker:g} is a rebate larger than taker_fee_rate {taker:g} "
            "(maker + taker must be ≥ 0)"
        )


@dataclass(frozen=True, slots=True)
class FeeOverride:
    """One instrument's rates; None keeps the exchange-wide rate."""

    maker_fee_rate: float | None = None
    taker_fee_rate: float | None = None

    def __post_init__(self) -> None:
        for name in FEE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                check_rate(value, name)

    @classmethod
    def from_table(cls, table: object, where: str) -> FeeOverride:
        """From a TOML table (or an existing override); ValueError names ``where``."""
        if isinstance(table, FeeOverride):
            return table
        if not isinstance(table, Mapping):
            raise ValueError(f"{where} must be a table of {' / '.join(FEE_FIELDS)}")
        unknown = sorted(set(table) - set(FEE_FIELDS))
        if unknown:
            raise ValueError(
                f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
                f"(known: {', '.join(FEE_FIELDS)})"
            )
        values: dict[str, Any] = {
            k: check_rate(v, f"{where}.{k}") for k, v in table.items() if v is not None
        }
        return cls(**values)

    def rates(self, maker: float, taker: float) -> tuple[float, float]:
        """(maker, taker) with this override applied over the exchange-wide rates."""
        return (
            maker if self.maker_fee_rate is None else self.maker_fee_rate,
            taker if self.taker_fee_rate is None else self.taker_fee_rate,
        )


def check_fees(
    maker: object, taker: object, overrides: Mapping[str, object], prefix: str = ""
) -> dict[str, FeeOverride]:
    """Validate exchange-wide rates and per-instrument overrides together (each instrument's
    effective pair included); returns the overrides as `FeeOverride`s. Messages name the
    field, prefixed with ``prefix`` (e.g. ``local_exchange.``)."""
    maker_f = check_rate(maker, f"{prefix}maker_fee_rate")
    taker_f = check_rate(taker, f"{prefix}taker_fee_rate")
    check_pair(maker_f, taker_f, prefix)
    if not isinstance(overrides, Mapping):
        raise ValueError(f"{prefix}instrument_fees must be a table of instrument names")
    out: dict[str, FeeOverride] = {}
    for name, table in overrides.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{prefix}instrument_fees: instrument names must be non-empty")
        where = f"{prefix}instrument_fees.{name}"
        override = FeeOverride.from_table(table, where)
        check_pair(*override.rates(maker_f, taker_f), f"{where}: ")
        out[name] = override
    return out
