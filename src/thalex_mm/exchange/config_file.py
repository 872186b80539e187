"""The local exchange's TOML config file.

    [exchange]            # any ExchangeConfig field except market_options
    port = 8765
    seed = 7
    time_scale = 10.0     # simulated seconds per real second
    step_ms = 20          # simulated time between market steps
    maker_fee_rate = -0.0001                  # every instrument (negative: a rebate)

    [exchange.instrument_fees.ETH-PERPETUAL]  # one instrument's rates
    taker_fee_rate = 0.0005

    [market]              # any MarketConfig field of the synthetic market
    volatility = 0.8
    taker_rate_per_s = 5.0
    informed_rate_per_s = 0.5
    informed_horizon_s = 5.0

Unknown tables or keys, wrong types and out-of-range values are a UserError naming them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from thalex_mm.errors import UserError
from thalex_mm.exchange.local import ExchangeConfig
from thalex_mm.exchange.market import MarketConfig

_EXCHANGE_FIELDS = {f.name for f in dataclasses.fields(ExchangeConfig)} - {"market_options"}
_MARKET_FIELDS = {f.name for f in dataclasses.fields(MarketConfig)}


def load_config(
    path: Path | None, overrides: dict[str, Any], defaults: dict[str, Any] | None = None
) -> ExchangeConfig:
    """``defaults``, then the file at ``path`` (if any), then ``overrides`` (non-None flags)."""
    exchange: dict[str, Any] = dict(defaults or {})
    market: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read config file {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path} is not valid TOML: {exc}") from None
        unknown = set(data) - {"exchange", "market"}
        if unknown:
            raise UserError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}")
        exchange.update(_table(data, "exchange", _EXCHANGE_FIELDS, path))
        market = _table(data, "market", _MARKET_FIELDS, path)
    exchange.update({k: v for k, v in overrides.items() if v is not None})
    try:
        if market:
            MarketConfig(**market)  # validate now, with the file's names in the message
        return ExchangeConfig(**exchange, market_options=market)
    except (TypeError, ValueError) as exc:
        where = f"{path}: " if path is not None else ""
        raise UserError(f"{where}{exc}") from None


def _table(data: dict[str, Any], name: str, allowed: set[str], path: Path) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise UserError(f"{path}: [{name}] must be a table")
    unknown = set(table) - allowed
    if unknown:
        raise UserError(
            f"{path}: unknown key(s) in [{name}]: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(allowed))})"
        )
    return dict(table)
