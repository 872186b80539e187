"""From the app config and the venue's instrument list to the core's EngineConfig.

Kept apart from the runner because it is pure: the venue's specs in, a validated engine
config (or one line naming the bad field) out.
"""

from __future__ import annotations

from thalex_mm.app.settings import AppConfig
from thalex_mm.core.config import EngineConfig, InstrumentConfig
from thalex_mm.domain import InstrumentSpec


class EngineSetupError(ValueError):
    """The config does not fit the venue; the message names the field."""


def missing_instrument(cfg: AppConfig, specs: dict[str, InstrumentSpec], url: str) -> str | None:
    """A config instrument the venue does not list (once its list is known), or None."""
    if not specs:
        return None
    for i, s in enumerate(cfg.instruments):
        if s.name not in specs:
            return (
                f"instruments[{i}].name: {s.name!r} is not traded on {url} "
                f"(perpetuals and futures there: {', '.join(sorted(specs))})"
            )
    return None


def engine_config(
    cfg: AppConfig, specs: dict[str, InstrumentSpec], url: str, first_client_order_id: int
) -> EngineConfig:
    """The engine's config for the venue's specs; raises EngineSetupError naming the field."""
    missing = missing_instrument(cfg, specs, url)
    if missing is not None:
        raise EngineSetupError(missing)
    instruments: list[InstrumentConfig] = []
    for i, s in enumerate(cfg.instruments):
        try:
            instruments.append(
                InstrumentConfig(
                    specs[s.name], quote=s.quote, quoter=s.quoter, orders=s.orders, risk=s.risk,
                    accounting=s.accounting, quoting=s.quoting,
                )
            )  # fmt: skip
        except ValueError as exc:
            raise EngineSetupError(f"instruments[{i}]: {exc}") from None
    try:
        return EngineConfig(
            tuple(instruments),
            first_client_order_id=first_client_order_id,
            max_total_loss=cfg.portfolio.max_total_loss,
            hedges=cfg.hedges,
            wait_for_resync=True,  # no orders before the venue's state is known
        )
    except ValueError as exc:
        raise EngineSetupError(f"config: {exc}") from None
