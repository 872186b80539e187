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

    [faults]              # injected faults (exchange/fault_config.py); none by default
    seed = 7
    reject = 0.02
    [[faults.schedule]]
    at_s = 10.0
    kind = "abort"

Unknown tables or keys, wrong types and out-of-range values are a UserError naming them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from thalex_mm.errors import UserError
from thalex_mm.exchange.fault_config import FaultConfig, ScheduledFault
from thalex_mm.exchange.local import ExchangeConfig
from thalex_mm.exchange.market import MarketConfig

_EXCHANGE_FIELDS = {f.name for f in dataclasses.fields(ExchangeConfig)} - {
    "market_options",
    "faults",
}
_MARKET_FIELDS = {f.name for f in dataclasses.fields(MarketConfig)}
_FAULT_FIELDS = {f.name for f in dataclasses.fields(FaultConfig)}
_SCHEDULE_FIELDS = {f.name for f in dataclasses.fields(ScheduledFault)}


def load_config(
    path: Path | None,
    overrides: dict[str, Any],
    defaults: dict[str, Any] | None = None,
    fault_overrides: dict[str, Any] | None = None,
) -> ExchangeConfig:
    """``defaults``, then the file at ``path`` (if any), then ``overrides`` (non-None flags);
    ``fault_overrides`` replace keys of the file's [faults] table (the --fault flags)."""
    exchange: dict[str, Any] = dict(defaults or {})
    market: dict[str, Any] = {}
    faults: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read config file {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path} is not valid TOML: {exc}") from None
        unknown = set(data) - {"exchange", "market", "faults"}
        if unknown:
            raise UserError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}")
        exchange.update(_table(data, "exchange", _EXCHANGE_FIELDS, path))
        market = _table(data, "market", _MARKET_FIELDS, path)
        faults = _table(data, "faults", _FAULT_FIELDS, path)
    exchange.update({k: v for k, v in overrides.items() if v is not None})
    if faults or fault_overrides:
        merged = {**faults, **(fault_overrides or {})}
        if faults.get("schedule") and (fault_overrides or {}).get("schedule"):
            merged["schedule"] = [*faults["schedule"], *(fault_overrides or {})["schedule"]]
        exchange["faults"] = fault_config(merged, path)
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
    _refuse_unknown(table, allowed, f"{path}: ", f"[{name}]")
    return dict(table)


def _refuse_unknown(table: dict[str, Any], allowed: set[str], where: str, label: str) -> None:
    """One UserError listing the keys of ``table`` that are not ``allowed``, and the known."""
    unknown = set(table) - allowed
    if unknown:
        raise UserError(
            f"{where}unknown key(s) in {label}: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(allowed))})"
        )


def fault_config(table: dict[str, Any], path: Path | None = None) -> FaultConfig:
    """The [faults] table as a FaultConfig; a bad key or value is one UserError naming
    the field (``faults.reject``, ``faults.schedule[1].kind``)."""
    where = f"{path}: " if path is not None else ""
    _refuse_unknown(table, _FAULT_FIELDS, where, "[faults]")
    schedule = table.get("schedule", [])
    if not isinstance(schedule, list | tuple):
        raise UserError(f"{where}faults.schedule must be a list of tables ([[faults.schedule]])")
    for n, entry in enumerate(schedule):
        if not isinstance(entry, dict):
            raise UserError(f"{where}faults.schedule[{n}] must be a table")
        _refuse_unknown(entry, _SCHEDULE_FIELDS, where, f"faults.schedule[{n}]")
    try:
        return msgspec.convert(table, FaultConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise UserError(f"{where}faults: {_field_path(str(exc))}") from None


def _field_path(message: str) -> str:
    """msgspec's "bad value - at `$.schedule[0].kind`" as "schedule[0].kind: bad value"."""
    text, sep, at = message.rpartition(" - at `$")
    if not sep:
        return message
    return f"{at.rstrip('`').lstrip('.')}: {text}"
