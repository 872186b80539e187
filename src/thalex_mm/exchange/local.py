"""`LocalExchange`: the in-process API to run the local exchange (tests, the CLI, benchmarks).

    async with LocalExchange(ExchangeConfig(seed=7)) as ex:
        key = ex.new_test_key()              # or ex.add_api_key(kid, public_pem)
        ... connect a client to ex.url, log in with key.key_id / key.private_pem ...
        ex.engine.open_orders(key.account)   # inspect the exchange's state

Each API key gets its own account. With the default config the synthetic market drives the
books; ``market=False`` gives an empty, quiet exchange for protocol tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from thalex_mm.exchange.engine import (
    ExchangeInstrument,
    MatchingEngine,
    default_instruments,
    synthetic_index_price,
    synthetic_perpetuals,
    synthetic_underlying,
)
from thalex_mm.exchange.engine.instruments import MAX_SYNTHETIC
from thalex_mm.exchange.engine.types import TradeRecord
from thalex_mm.exchange.fault_config import FaultConfig, ScheduledFault
from thalex_mm.exchange.faults import FaultInjector
from thalex_mm.exchange.fees import (
    DEFAULT_MAKER_FEE_RATE,
    DEFAULT_TAKER_FEE_RATE,
    FeeOverride,
    check_fees,
)
from thalex_mm.exchange.hub import ExchangeHub, Market, SimClock
from thalex_mm.exchange.market import MarketConfig, ReplayConfig, ReplayMarket, SyntheticMarket
from thalex_mm.exchange.market.replay import DATA_DIR
from thalex_mm.exchange.server import ExchangeServer, WallClock
from thalex_mm.exchange.stats import ExchangeStats
from thalex_mm.venue.thalex.auth import KeyRing, generate_key_pair, new_key_id

log = logging.getLogger("thalex_mm.exchange")

_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "host": str,
    "port": int,
    "seed": int,
    "time_scale": (int, float),
    "step_ms": (int, float),
    "tick_ms": (int, float),
    "rate_scale": (int, float),
    "default_balance": (int, float),
    "extra_instruments": int,
    "md_rate": (int, float),
    "flow_control_bytes": int,
}
_KIND_NAMES: dict[type | tuple[type, ...], str] = {
    str: "a string",
    int: "an integer",
    (int, float): "a number",
}

MAX_MD_RATE = 1_000_000.0

MarketFactory = Callable[[MatchingEngine, "ExchangeConfig", int], Market | None]


@dataclass(slots=True)
class ExchangeConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port
    seed: int = 0
    time_scale: float = 1.0  # simulated seconds per real second
    step_ms: float = 20.0  # simulated time between market steps
    tick_ms: float = 5.0  # real time between clock ticks of the server
    rate_scale: float = 1.0  # multiplies Thalex's message-rate limits (1 = as documented)
    default_balance: float = 1_000_000.0
    market: bool = True  # run the synthetic market
    replay: str | None = None  # recorded-data prefix for the market to replay
    market_options: dict[str, Any] = field(default_factory=dict)
    # load generation (benchmarks): SYN001-PERPETUAL … on their own indices, and a fixed
    # aggregate rate of raw ticker/lwt publications (msg/s over all such channels; 0 = on change)
    extra_instruments: int = 0
    md_rate: float = 0.0
    # > 0: the market pauses while a client has more than this many bytes unsent (for
    # throughput ceilings, where the exchange would outrun any reader); 0: it never waits
    # and a client that stops reading is cut off at 64 MiB (counted as a slow consumer)
    flow_control_bytes: int = 0
    # fee rates (fractions of notional; negative maker = rebate) of every listed instrument,
    # and per-instrument overrides by name (a TOML table of maker_fee_rate / taker_fee_rate)
    maker_fee_rate: float = DEFAULT_MAKER_FEE_RATE
    taker_fee_rate: float = DEFAULT_TAKER_FEE_RATE
    instrument_fees: Mapping[str, FeeOverride | Mapping[str, float]] = field(default_factory=dict)
    # injected faults (exchange/fault_config.py); the default injects none
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        for name, kinds in _FIELD_TYPES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise ValueError(f"{name} must be {_KIND_NAMES[kinds]}, got {value!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {self.time_scale}")
        if not self.step_ms > 0 or not self.tick_ms > 0:
            raise ValueError("step_ms and tick_ms must be positive")
        if not self.rate_scale > 0:
            raise ValueError(f"rate_scale must be positive, got {self.rate_scale}")
        if not 0 <= self.extra_instruments <= MAX_SYNTHETIC:
            raise ValueError(
                f"extra_instruments must be 0..{MAX_SYNTHETIC}, got {self.extra_instruments}"
            )
        if not (math.isfinite(self.md_rate) and 0 <= self.md_rate <= MAX_MD_RATE):
            raise ValueError(f"md_rate must be 0..{MAX_MD_RATE:g} msg/s, got {self.md_rate}")
        if self.flow_control_bytes < 0:
            raise ValueError(f"flow_control_bytes must be ≥ 0, got {self.flow_control_bytes}")
        if self.extra_instruments and self.replay is not None:
            raise ValueError("extra_instruments needs the synthetic market, not replay")
        check_fees(self.maker_fee_rate, self.taker_fee_rate, self.instrument_fees)
        if not isinstance(self.faults, FaultConfig):
            raise ValueError(f"faults must be a FaultConfig, got {self.faults!r}")


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A generated API key registered with the exchange (the private key stays in memory)."""

    key_id: str
    private_pem: bytes
    public_pem: bytes
    account: str

    def __repr__(self) -> str:
        return f"GeneratedKey(key_id={self.key_id!r}, account={self.account!r})"


class LocalExchange:
    def __init__(
        self,
        config: ExchangeConfig | None = None,
        *,
        engine: MatchingEngine | None = None,
        market_factory: MarketFactory | None = None,
    ) -> None:
        self.config = config or ExchangeConfig()
        self._wall = WallClock()
        now_ns = self._wall.now_ns()
        self._market_factory = market_factory
        self.faults = (
            FaultInjector(self.config.faults, now_ns) if self.config.faults.active else None
        )
        self.keyring = KeyRing()
        self.market_name = market_name(self.config, custom=market_factory is not None)
        self._sim_clock = SimClock(now_ns, now_ns, self.config.time_scale)
        self.past_engines: list[MatchingEngine] = []  # before restarts that lost the state
        self.restarts = 0
        self._restarting: set[asyncio.Task[None]] = set()
        self._build(engine, now_ns)
        self.server = self._new_server(self.config.port)
        self._rng = random.Random(self.config.seed)
        self._accounts = 0
        self.started = False

    def _build(self, engine: MatchingEngine | None, now_ns: int) -> None:
        """The matching engine, its market and the hub (again after a restart that lost
        the state; the keys, the simulated clock and the fault schedule carry over)."""
        self.engine = engine or MatchingEngine(
            with_fees(
                default_instruments(now_ns)
                + synthetic_perpetuals(self.config.extra_instruments, now_ns),
                self.config,
            ),
            default_balance=self.config.default_balance,
            id_epoch=next_id_epoch(now_ns),
        )
        market = None
        if self.config.market:
            factory = self._market_factory or default_market
            market = factory(self.engine, self.config, now_ns)
        self.hub = ExchangeHub(
            self.engine,
            self.keyring,
            self._sim_clock,
            market=market,
            step_ns=int(self.config.step_ms * 1_000_000),
            rate_scale=self.config.rate_scale,
            md_rate=self.config.md_rate,
            market_name=self.market_name,
            faults=self.faults,
        )

    def _new_server(self, port: int) -> ExchangeServer:
        server = ExchangeServer(
            self.hub,
            self._wall,
            self.config.host,
            port,
            tick_interval_s=self.config.tick_ms / 1000,
            flow_control_bytes=self.config.flow_control_bytes,
            faults=self.faults,
        )
        server.on_restart = self._restart_soon
        return server

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> LocalExchange:
        await self.server.start()
        self.started = True
        return self

    async def stop(self) -> None:
        for task in list(self._restarting):  # a restart under way finishes first
            await task
        if self.started:
            self.started = False
            await self.server.stop()

    async def restart(self, *, keep_state: bool = True, down_s: float = 0.0) -> None:
        """Drop every connection as a crash would, stay down ``down_s``, listen again on the
        same port; ``keep_state=False`` starts a fresh matching engine (orders, positions
        and balances lost; the old one stays in ``past_engines`` for its records)."""
        old = self.server
        await old.stop(abrupt=True)
        if down_s:
            await asyncio.sleep(down_s)
        if not keep_state:
            self.past_engines.append(self.engine)
            self._build(None, self._wall.now_ns())
        self.server = self._new_server(old.port)
        await self.server.start()
        self.restarts += 1
        log.warning("local exchange restarted (%s)", "state kept" if keep_state else "state lost")

    def _restart_soon(self, fault: ScheduledFault) -> None:
        if self._restarting or not self.started:
            return  # one restart at a time
        task = asyncio.get_running_loop().create_task(
            self.restart(keep_state=fault.kind == "restart", down_s=fault.duration_s)
        )
        self._restarting.add(task)
        task.add_done_callback(self._restarting.discard)

    def all_trades(self, account: str) -> list[TradeRecord]:
        """The account's trades on every engine this exchange ran (restarts included)."""
        trades: list[TradeRecord] = []
        for engine in [*self.past_engines, self.engine]:
            trades.extend(engine.trade_history(account))
        return trades

    async def __aenter__(self) -> LocalExchange:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    # ---- keys and accounts ---------------------------------------------------------------
    def add_api_key(self, key_id: str, public_pem: str | bytes, account: str | None = None) -> str:
        """Accept logins signed for ``key_id``; returns the account the key trades on."""
        if key_id in self.keyring:
            raise ValueError(f"API key id {key_id!r} is already registered")
        if account is None:
            self._accounts += 1
            account = f"A{self._accounts:09d}"
        self.keyring.add(key_id, public_pem, account)
        return account

    def new_test_key(self, key_id: str | None = None) -> GeneratedKey:
        """Generate an RSA key pair and register it (tests and the standalone command)."""
        private_pem, public_pem = generate_key_pair()
        if key_id is None:
            key_id = new_key_id(self._rng)
            while key_id in self.keyring:
                key_id = new_key_id(self._rng)
        account = self.add_api_key(key_id, public_pem)
        return GeneratedKey(key_id, private_pem, public_pem, account)

    def summary(self) -> str:
        """One line for the end of a run."""
        server = self.server
        stats = self.hub.stats()
        return (
            f"local exchange stopped: {server.messages_in} messages in, "
            f"{server.frames_out} frames out, {stats.totals.frames_dropped} dropped, "
            f"{stats.slow_consumer_disconnects} slow consumers cut off, "
            f"{len(self.keyring)} API keys, {self.hub.internal_error_count} internal errors"
            + self.faults_summary()
        )

    def faults_summary(self) -> str:
        """``; faults injected: abort 2, delayed 310`` (empty without a [faults] table)."""
        if self.faults is None:
            return ""
        done = ", ".join(f"{k} {n}" for k, n in sorted(self.faults.injected.items()))
        return f"; faults injected: {done or 'none yet'}"

    def stats(self) -> ExchangeStats:
        """Counters for load tests: frames sent, dropped, coalesced; slow consumers."""
        return self.hub.stats()


_last_epoch = 0


def next_id_epoch(now_ns: int) -> int:
    """The wall clock in µs, strictly increasing within the process, as the engine's id
    epoch: an exchange started later (a restart, issue #16 defect 5) issues ids past all
    that an earlier one had issued by then, which would take more than one order per µs to
    reach (see `EngineCore._next_order_id`)."""
    global _last_epoch  # noqa: PLW0603 - one counter per process, by design
    _last_epoch = max(now_ns // 1_000, _last_epoch + 1)
    return _last_epoch


def with_fees(
    instruments: Sequence[ExchangeInstrument], config: ExchangeConfig
) -> list[ExchangeInstrument]:
    """The instruments with the config's fee rates; an override naming no listed instrument
    is a ValueError (a misspelt name must not fall back to the default rates silently)."""
    overrides = check_fees(config.maker_fee_rate, config.taker_fee_rate, config.instrument_fees)
    listed = {inst.name for inst in instruments}
    unknown = sorted(set(overrides) - listed)
    if unknown:
        raise ValueError(
            f"instrument_fees: {', '.join(unknown)} not listed "
            f"(listed: {', '.join(inst.name for inst in instruments)})"
        )
    out: list[ExchangeInstrument] = []
    for inst in instruments:
        override = overrides.get(inst.name, FeeOverride())
        maker, taker = override.rates(config.maker_fee_rate, config.taker_fee_rate)
        out.append(dataclasses.replace(inst, maker_fee_rate=maker, taker_fee_rate=taker))
    return out


def market_name(config: ExchangeConfig, *, custom: bool = False) -> str:
    """What drives the books, as a run's banner and summary name it: "synthetic market",
    "replay of <window>", "no market" or "custom market"."""
    if not config.market:
        return "no market"
    if custom:
        return "custom market"
    if config.replay is not None:
        return f"replay of {replay_window(config.replay).name}"
    return "synthetic market"


def default_market(engine: MatchingEngine, config: ExchangeConfig, now_ns: int) -> Market | None:
    """The synthetic market (seeded by ``config.seed``, tuned by ``config.market_options``),
    or the replay of a recorded window when ``config.replay`` is set."""
    options = dict(config.market_options)
    options.setdefault("seed", config.seed)
    prices = dict(options.get("initial_prices") or MarketConfig().initial_prices)
    for number in range(1, config.extra_instruments + 1):
        prices.setdefault(synthetic_underlying(number), synthetic_index_price(number))
    options["initial_prices"] = prices
    background = MarketConfig(**options)
    if config.replay is None:
        return SyntheticMarket(engine, background)
    return ReplayMarket(engine, replay_config(config.replay, background))


def replay_window(prefix: str) -> Path:
    """The window's path prefix, without a ``_trades.csv.gz`` / ``_bbo.csv.gz`` suffix."""
    path = Path(prefix)
    for suffix in ("_trades.csv.gz", "_bbo.csv.gz"):
        if path.name.endswith(suffix):
            path = path.with_name(path.name[: -len(suffix)])
    return path


def replay_config(prefix: str, background: MarketConfig) -> ReplayConfig:
    """``prefix`` is a window name in the shared data folder, or a path without the
    ``_trades.csv.gz`` / ``_bbo.csv.gz`` suffix. ETH windows drive ETH-PERPETUAL."""
    path = replay_window(prefix)
    data_dir = path.parent if path.parent != Path() else DATA_DIR
    instrument = "ETH-PERPETUAL" if "ETH" in path.name.upper() else "BTC-PERPETUAL"
    return ReplayConfig(
        window=path.name, instrument_name=instrument, data_dir=data_dir, background=background
    )
