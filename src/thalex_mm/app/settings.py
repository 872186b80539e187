"""The application's config file: one TOML file; secrets come from files or the environment.

Every section is a frozen dataclass validated on construction; ``load_config`` parses the
file, rejects unknown keys and reports the first bad value as one line naming the field
(``instruments[0].risk.max_position: ...``). The per-instrument sections reuse the core's
own config classes (``QuoteParams``, ``QuoterConfig``, ``OrderManagerConfig``, ``RiskConfig``,
``AccountingConfig``), so the file and the engine can never disagree about a field.

Checks that need the venue (tick and lot sizes) run when the engine is built at start-up.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thalex_mm.app.strict_convert import ConfigError, strict_convert
from thalex_mm.core.config import (
    AccountingConfig,
    HedgeConfig,
    OrderManagerConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.errors import UserError
from thalex_mm.exchange.fault_config import FaultConfig
from thalex_mm.exchange.fees import (
    DEFAULT_MAKER_FEE_RATE,
    DEFAULT_TAKER_FEE_RATE,
    check_fees,
)
from thalex_mm.journal.sinks.base import DEFAULT_URL
from thalex_mm.model.quote import LadderParams, QuoteParams
from thalex_mm.secrets import looks_like_key_material

NetworkName = Literal["local", "testnet", "production"]
# = exchange.market.config.MAX_INFORMED_HORIZON_S (not imported: it would load the simulator)
MAX_INFORMED_HORIZON_S = 60.0


@dataclass(frozen=True, slots=True)
class VenueSettings:
    """Where to trade. Production also needs ``--i-understand-this-is-production``."""

    network: NetworkName = "local"
    url: str | None = None  # any endpoint speaking the Thalex protocol (network "local" only)
    key_id: str | None = None
    private_key_file: str | None = None  # else the variable named by private_key_env
    private_key_env: str = "THALEX_MM_PRIVATE_KEY"
    account: str | None = None
    cancel_on_disconnect_s: int = 6

    def __post_init__(self) -> None:
        # A key pasted in place of a path or a name must fail here, without being repeated.
        for name in ("private_key_file", "private_key_env", "key_id", "account", "url"):
            value = getattr(self, name)
            if isinstance(value, str) and looks_like_key_material(value):
                raise ValueError(
                    f"venue.{name} holds what looks like key material, not a "
                    f"{'path' if name == 'private_key_file' else 'value'} (not shown): put the "
                    "private key in a file only you can read and give its path"
                )
        if self.url is not None and not self.url.startswith(("ws://", "wss://")):
            raise ValueError(f"venue.url must start with ws:// or wss://, got {self.url!r}")
        if self.url is not None and self.network != "local":
            raise ValueError("venue.url is only allowed with network = 'local'")
        if not 1 <= self.cancel_on_disconnect_s <= 3600:
            raise ValueError("venue.cancel_on_disconnect_s must be 1..3600 seconds")


@dataclass(frozen=True, slots=True)
class LocalExchangeSettings:
    """The in-process exchange started when network is 'local' and no url is given."""

    seed: int = 0
    time_scale: float = 1.0  # simulated seconds per real second
    rate_scale: float = 1.0  # multiplies the venue's message-rate limits
    market: bool = True  # run the synthetic market
    replay: str | None = None  # recorded window to replay instead
    taker_rate_per_s: float = 2.0  # uninformed taker arrivals per side and second
    informed_rate_per_s: float = 0.0  # informed taker arrivals per instrument and second
    informed_horizon_s: float = 0.0  # they trade toward the fair price this far ahead
    # fee rates of every instrument (fractions of notional; negative maker = rebate), and
    # per-instrument overrides: [local_exchange.instrument_fees.ETH-PERPETUAL]
    maker_fee_rate: float = DEFAULT_MAKER_FEE_RATE
    taker_fee_rate: float = DEFAULT_TAKER_FEE_RATE
    instrument_fees: dict[str, dict[str, float]] = field(default_factory=dict)
    # injected faults: [local_exchange.faults] (exchange/fault_config.py); none by default
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        if not (0 < self.time_scale < math.inf):
            raise ValueError("local_exchange.time_scale must be positive")
        if not (0 < self.rate_scale < math.inf):
            raise ValueError("local_exchange.rate_scale must be positive")
        if not (0 <= self.taker_rate_per_s < math.inf):
            raise ValueError("local_exchange.taker_rate_per_s must be >= 0")
        if not (0 <= self.informed_rate_per_s < math.inf):
            raise ValueError("informed_rate_per_s must be >= 0")  # msgspec adds the table
        if not (0 <= self.informed_horizon_s <= MAX_INFORMED_HORIZON_S):
            raise ValueError(f"informed_horizon_s must be 0..{MAX_INFORMED_HORIZON_S:g} s")
        check_fees(self.maker_fee_rate, self.taker_fee_rate, self.instrument_fees)


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How long to run and how often to report."""

    duration_s: float | None = None  # None: until Ctrl-C / SIGTERM
    status_interval_s: float = 5.0  # aggregated status line period
    timer_interval_ms: float = 100.0  # engine timer (refresh, staleness, timeouts)
    book_depth: int = 10  # levels of the public book subscribed to; 0: top of book only
    latency_samples: int = 65_536  # tick-to-order samples kept (a fixed ring)
    # once connected: freeze the start-up heap and run a young collection every this many
    # allocations instead of Python's 700 (fewer, shorter GC stalls); 0: Python's defaults
    gc_young_threshold: int = 50_000
    # keep the event loop polling instead of sleeping between frames (app/polling.py):
    # lower tick-to-order latency for one core at 100 %; only with a core to spare
    busy_poll: bool = False
    # with busy_poll: run the journal's append path on scratch data this often between
    # events, so a real append finds it cached (app/polling.py); 0: never
    warm_interval_us: float = 1000.0
    # glibc: blocks of this many KiB or more get their own mapping, freed back to the OS, at
    # a fixed threshold (app/heap.py): without it the heap grows in ~0.3 MB steps from
    # large socket buffers while the memory in use is flat; 0: glibc's sliding default
    malloc_mmap_threshold_kb: int = 64
    # pin the event loop to this CPU; the journal writer process runs on the other CPUs
    # (app/placement.py). None: the OS places everything
    cpu: int | None = None
    # warm start (app/warm_start.py): resume each instrument's estimators from the newest
    # state in the journal, if it is at most warm_start_max_age_s old; off without a journal
    warm_start: bool = True
    warm_start_max_age_s: float = 3600.0
    # the live snapshot (app/live.py, docs/monitoring.md) for `thalex-mm watch` and metrics:
    # written after a quoting cycle at most every snapshot_interval_ms per instrument, into
    # snapshot_dir (None: /dev/shm, else the temp folder)
    snapshot: bool = True
    snapshot_interval_ms: float = 100.0
    snapshot_dir: str | None = None
    # serve Prometheus metrics read from the snapshot on http://metrics_host:metrics_port/
    # (a separate process, never the event loop); None: no metrics
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if not (0 <= self.snapshot_interval_ms <= 60_000):
            raise ValueError("run.snapshot_interval_ms must be 0..60000 (0: every cycle)")
        if self.metrics_port is not None:
            if not (1 <= self.metrics_port <= 65535):
                raise ValueError(f"run.metrics_port must be 1..65535, got {self.metrics_port}")
            if not self.snapshot:
                raise ValueError("run.metrics_port needs run.snapshot = true (metrics read it)")
        if not self.metrics_host.strip():
            raise ValueError("run.metrics_host must not be empty")
        if not (0 < self.warm_start_max_age_s < math.inf):
            raise ValueError("run.warm_start_max_age_s must be positive")
        if not (0 <= self.malloc_mmap_threshold_kb <= 32768):
            raise ValueError("run.malloc_mmap_threshold_kb must be 0..32768 (0: glibc's default)")
        if self.cpu is not None and not (0 <= self.cpu < 4096):
            raise ValueError(f"run.cpu must be a CPU number (0, 1, ...), got {self.cpu!r}")
        if self.duration_s is not None and not (0 < self.duration_s < math.inf):
            raise ValueError(f"run.duration_s must be positive, got {self.duration_s!r}")
        if not (0 < self.status_interval_s < math.inf):
            raise ValueError("run.status_interval_s must be positive")
        if not (1 <= self.timer_interval_ms <= 60_000):
            raise ValueError("run.timer_interval_ms must be 1..60000")
        if self.book_depth < 0 or self.book_depth > 1000:
            raise ValueError("run.book_depth must be 0..1000")
        if self.latency_samples < 1:
            raise ValueError("run.latency_samples must be >= 1")
        if not (0 <= self.gc_young_threshold <= 10_000_000):
            raise ValueError("run.gc_young_threshold must be 0..10000000 (0: Python's defaults)")
        if not (0 <= self.warm_interval_us <= 1_000_000):
            raise ValueError("run.warm_interval_us must be 0..1000000 (0: no warming)")


@dataclass(frozen=True, slots=True)
class JournalConfig:
    """The durable record of the run: on by default, to SQLite under ./data/ (zero setup);
    ``--journal URL`` chooses another sink, ``--no-journal`` (or enabled = false) none."""

    enabled: bool = True
    url: str = DEFAULT_URL  # sqlite:///path.db, postgresql://..., questdb://...
    segment_dir: str | None = None  # default: next to the SQLite file or ./data
    writer: Literal["process", "thread"] = "process"
    writer_priority: Literal["idle", "normal"] = "idle"  # the writer process's CPU class
    market_interval_ms: float = 100.0  # market snapshots sampled at most this often
    position_interval_s: float = 1.0  # position snapshots this often
    estimator_interval_s: float = 30.0  # estimator states (for a warm start) this often
    # records waiting and the writer has committed nothing for this long (a full disk, a
    # database refusing writes): no new risk, with the writer's error; 0: never
    max_commit_stall_s: float = 5.0

    def __post_init__(self) -> None:
        if not (0 < self.estimator_interval_s < math.inf):
            raise ValueError("journal.estimator_interval_s must be positive")
        if not (self.max_commit_stall_s == 0 or 0.5 <= self.max_commit_stall_s < math.inf):
            raise ValueError("journal.max_commit_stall_s must be 0 (off) or at least 0.5 s")
        if not self.url.strip():
            raise ValueError("journal.url must not be empty (enabled = false turns it off)")
        if not (0 < self.market_interval_ms < math.inf):
            raise ValueError("journal.market_interval_ms must be positive")
        if not (0 < self.position_interval_s < math.inf):
            raise ValueError("journal.position_interval_s must be positive")


@dataclass(frozen=True, slots=True)
class PortfolioSettings:
    max_total_loss: float | None = None  # all instruments' PnL below -this halts everything

    def __post_init__(self) -> None:
        if self.max_total_loss is not None and not (0 < self.max_total_loss < math.inf):
            raise ValueError("portfolio.max_total_loss must be positive")


@dataclass(frozen=True, slots=True)
class InstrumentSettings:
    """One quoted (or only tracked) instrument, with its own parameters."""

    name: str
    quoting: bool = True
    quote: QuoteParams = field(default_factory=QuoteParams)
    quoter: QuoterConfig = field(default_factory=QuoterConfig)
    orders: OrderManagerConfig = field(default_factory=OrderManagerConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    accounting: AccountingConfig = field(default_factory=AccountingConfig)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("name must not be empty")


def demo_instrument(name: str = "BTC-PERPETUAL") -> InstrumentSettings:
    """What runs with no config: a small BTC-PERPETUAL quoter that is quoting within a second
    (volatility prior instead of a warm-up) and stays inside the default message rates."""
    return InstrumentSettings(
        name,
        quote=QuoteParams(gamma_usd=3.0, ladder=LadderParams(levels=3)),
        quoter=QuoterConfig(sigma_default=5.0, A=1.0, k=0.05),
        accounting=AccountingConfig(maker_fee_rate=0.0001, taker_fee_rate=0.0003),
        orders=OrderManagerConfig(amend_threshold_ticks=3, min_update_interval_ms=100.0),
        risk=RiskConfig(max_position=0.01),
    )


def _default_instruments() -> tuple[InstrumentSettings, ...]:
    return (demo_instrument(),)


@dataclass(frozen=True, slots=True)
class AppConfig:
    venue: VenueSettings = field(default_factory=VenueSettings)
    local_exchange: LocalExchangeSettings = field(default_factory=LocalExchangeSettings)
    run: RunSettings = field(default_factory=RunSettings)
    journal: JournalConfig = field(default_factory=JournalConfig)
    portfolio: PortfolioSettings = field(default_factory=PortfolioSettings)
    instruments: tuple[InstrumentSettings, ...] = field(default_factory=_default_instruments)
    hedges: tuple[HedgeConfig, ...] = ()

    def __post_init__(self) -> None:
        if not self.instruments:
            raise ValueError("instruments must list at least one instrument")
        names = [i.name for i in self.instruments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"instruments lists {', '.join(dupes)} more than once")
        for hedge in self.hedges:
            for name in (hedge.quoted, hedge.hedge):
                if name not in names:
                    raise ValueError(f"hedge instrument {name!r} is not in instruments")

    @property
    def instrument_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.instruments)


def public_channels(config: AppConfig) -> tuple[str, ...]:
    """Per instrument: the raw ticker (mark, index, funding) and the book (or top of book)."""
    depth = config.run.book_depth
    out: list[str] = []
    for inst in config.instruments:
        out.append(f"ticker.{inst.name}.raw")
        out.append(f"book.{inst.name}.none.{depth}.raw" if depth > 0 else f"lwt.{inst.name}.raw")
    return tuple(out)


PRIVATE_CHANNELS = (
    "session.orders",  # our orders and their fills, first (no fees)
    "account.portfolio",  # the venue's positions, to reconcile with
    "session.mm_protection",
    "account.trade_history",  # the same fills a little later, with their fees
)


def private_channels(config: AppConfig) -> tuple[str, ...]:
    """The private channels the run subscribes to (the same for every config today)."""
    return PRIVATE_CHANNELS


def order_labels(config: AppConfig) -> frozenset[str]:
    """Labels our orders carry: a restarted run claims only trades with one of these."""
    return frozenset(
        [i.orders.label for i in config.instruments] + [h.label for h in config.hedges]
    )


def _check_changed_meanings(data: dict[str, Any]) -> None:
    """Keys whose meaning changed fail with how to convert, rather than trade differently."""
    instruments = data.get("instruments")
    if not isinstance(instruments, list):
        return
    for i, inst in enumerate(instruments):
        quote = inst.get("quote") if isinstance(inst, dict) else None
        if not isinstance(quote, dict) or "gamma" not in quote:
            continue
        gamma = quote["gamma"]
        lot = quote.get("lot_size", 0.001)
        example = ""
        if isinstance(gamma, int | float) and isinstance(lot, int | float) and lot > 0:
            example = (
                f" (your gamma {gamma:g} with lot_size {lot:g} is gamma_usd = {gamma / lot:g})"
            )
        raise ConfigError(
            f"instruments[{i}].quote.gamma",
            "was risk aversion per model lot and is gone: use gamma_usd, per USD of the quote "
            f"currency, independent of lot_size; gamma_usd = gamma / lot_size{example}",
        )


def config_from_data(data: dict[str, Any]) -> AppConfig:
    """Typed config from parsed TOML; ConfigError names the bad field."""
    _check_changed_meanings(data)
    return strict_convert(data, AppConfig)


def load_config(path: str | Path | None) -> AppConfig:
    """Read and validate ``path`` (None: the defaults). UserError names the problem."""
    if path is None:
        return AppConfig()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read config file {str(p)!r}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {p}: not valid TOML: {exc}") from None
    try:
        return config_from_data(data)
    except ConfigError as exc:
        raise UserError(f"config file {p}: {exc}") from None


def config_as_dict(config: AppConfig) -> dict[str, Any]:
    """Plain data (for the journal's run metadata; it redacts secret-looking keys)."""
    import msgspec  # noqa: PLC0415

    data: dict[str, Any] = msgspec.to_builtins(config)
    return data
