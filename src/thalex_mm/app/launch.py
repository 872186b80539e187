"""``thalex-mm run``: resolve where to trade, start logging/journal/exchange, run, summarise.

Everything a user can get wrong (flags, config fields, key files, URLs) is checked before
the first connection and reported as ``UserError`` (one line, exit code 2).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from thalex_mm.app.client_ids import first_client_order_id
from thalex_mm.app.journaling import TradeJournal
from thalex_mm.app.logs import QueueLogging
from thalex_mm.app.placement import event_loop_on
from thalex_mm.app.run_stats import format_summary
from thalex_mm.app.runner import STRATEGY, Runner
from thalex_mm.app.settings import (
    AppConfig,
    load_config,
    order_labels,
    private_channels,
    public_channels,
)
from thalex_mm.app.warm_start import SavedStates, read_saved_states
from thalex_mm.errors import UserError
from thalex_mm.journal.sinks.base import redact_url
from thalex_mm.venue.thalex.client_config import ClientConfig
from thalex_mm.venue.thalex.credentials import Credentials, load_credentials
from thalex_mm.venue.thalex.networks import Endpoint, Network, resolve_endpoint, start_banner

log = logging.getLogger("thalex_mm.run")
T = TypeVar("T")

NETWORK_ALIASES = {"local": "local", "testnet": "testnet", "prod": "production"}
NETWORK_ALIASES["production"] = "production"


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The command line of ``thalex-mm run`` (None: take the config file's value)."""

    config: Path | None = None
    duration_s: float | None = None
    network: str | None = None
    url: str | None = None
    key_id: str | None = None
    private_key_file: Path | None = None
    journal: str | None = None
    no_journal: bool = False
    no_warm_start: bool = False
    summary_json: Path | None = None
    verbose: bool = False
    allow_production: bool = False
    metrics_port: int | None = None


def effective_config(opts: RunOptions) -> AppConfig:
    """The config file with the command line's overrides applied, validated."""
    if opts.duration_s is not None and not opts.duration_s > 0:
        raise UserError(f"--duration must be a positive number of seconds, got {opts.duration_s}")
    cfg = load_config(opts.config)
    venue = cfg.venue
    if opts.network is not None:
        network = NETWORK_ALIASES.get(opts.network)
        if network is None:
            raise UserError(f"--network must be local, testnet or prod, not {opts.network!r}")
        venue = replace(venue, network=network, url=None if network != "local" else venue.url)  # type: ignore[arg-type]
    if opts.url is not None:
        if not opts.url.startswith(("ws://", "wss://")):
            raise UserError(f"--url must start with ws:// or wss://, got {opts.url!r}")
        if venue.network != "local":
            raise UserError(f"--url cannot be combined with --network {venue.network}")
        venue = replace(venue, url=opts.url)
    try:  # VenueSettings refuses key material pasted as a key id or a path, unrepeated
        if opts.key_id is not None:
            venue = replace(venue, key_id=opts.key_id)
        if opts.private_key_file is not None:
            venue = replace(venue, private_key_file=str(opts.private_key_file))
    except ValueError as exc:
        raise UserError(
            str(exc)
            .replace("venue.key_id", "--key-id")
            .replace("venue.private_key_file", "--private-key-file")
        ) from None
    run = cfg.run if opts.duration_s is None else replace(cfg.run, duration_s=opts.duration_s)
    if opts.no_warm_start:
        run = replace(run, warm_start=False)
    if opts.metrics_port is not None:
        if not 1 <= opts.metrics_port <= 65535:
            raise UserError(f"--metrics-port must be 1..65535, got {opts.metrics_port}")
        run = replace(run, metrics_port=opts.metrics_port, snapshot=True)
    journal = cfg.journal
    if opts.journal is not None:
        if opts.no_journal:
            raise UserError("--journal and --no-journal cannot be combined")
        if not opts.journal.strip():
            raise UserError("--journal needs a URL, e.g. sqlite:///data/journal.db")
        journal = replace(journal, url=opts.journal, enabled=True)
    elif opts.no_journal:
        journal = replace(journal, enabled=False)
    if opts.summary_json is not None and not opts.summary_json.parent.is_dir():
        raise UserError(f"--summary-json: folder {str(opts.summary_json.parent)!r} does not exist")
    return replace(cfg, venue=venue, run=run, journal=journal)


def uses_inprocess_exchange(cfg: AppConfig) -> bool:
    return cfg.venue.network == "local" and cfg.venue.url is None


def resolve_target(cfg: AppConfig, allow_production: bool) -> tuple[Endpoint, Credentials]:
    """Endpoint and credentials for an external venue (not the in-process exchange)."""
    v = cfg.venue
    endpoint = resolve_endpoint(v.network, local_url=v.url, allow_production=allow_production)
    if not v.key_id:
        raise UserError(
            f"network {v.network} needs an API key: --key-id KID (or venue.key_id) and "
            f"--private-key-file PEM (or the variable {v.private_key_env})"
        )
    if v.private_key_file is not None:
        creds = load_credentials(v.key_id, key_file=v.private_key_file)
    else:
        creds = load_credentials(v.key_id, key_env=v.private_key_env)
    return endpoint, creds


def _run_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.run(main())
    result: T = uvloop.run(main())
    return result


def run_command(opts: RunOptions, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    cfg = effective_config(opts)
    target = None if uses_inprocess_exchange(cfg) else resolve_target(cfg, opts.allow_production)
    writer_needs_cpu = cfg.run.busy_poll and cfg.journal.enabled and cfg.journal.writer == "process"
    with (
        QueueLogging(verbose=opts.verbose),
        event_loop_on(cfg.run.cpu, needs_helper_cpu=writer_needs_cpu) as helper_cpus,
    ):
        summary = _run_loop(lambda: _main(cfg, target, stream, helper_cpus))
    stream.write(format_summary(summary) + "\n")
    stream.flush()
    if opts.summary_json is not None:
        try:
            opts.summary_json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write --summary-json {opts.summary_json}: {exc}") from None
    return 0


async def _main(
    cfg: AppConfig,
    target: tuple[Endpoint, Credentials] | None,
    out: TextIO,
    helper_cpus: tuple[int, ...] = (),
) -> dict[str, Any]:
    exchange: Any = None
    if target is None:
        from thalex_mm.exchange.local import ExchangeConfig, LocalExchange  # noqa: PLC0415

        lx = cfg.local_exchange
        try:
            exchange = LocalExchange(
                ExchangeConfig(
                    seed=lx.seed, time_scale=lx.time_scale, rate_scale=lx.rate_scale,
                    market=lx.market, replay=lx.replay,
                    market_options={
                        "taker_rate_per_s": lx.taker_rate_per_s,
                        "informed_rate_per_s": lx.informed_rate_per_s,
                        "informed_horizon_s": lx.informed_horizon_s,
                    },
                    maker_fee_rate=lx.maker_fee_rate, taker_fee_rate=lx.taker_fee_rate,
                    instrument_fees=lx.instrument_fees, faults=lx.faults,
                )
            )  # fmt: skip
        except ValueError as exc:  # e.g. instrument_fees naming an unlisted instrument
            raise UserError(f"local_exchange: {exc}") from None
        await exchange.start()
        key = exchange.new_test_key()
        endpoint = Endpoint(Network.LOCAL, exchange.url)
        creds = Credentials(key.key_id, key.private_pem, "a generated test key")
        mode = f"local exchange (in-process, {exchange.market_name})"
    else:
        endpoint, creds = target
        mode = {
            Network.LOCAL: "Thalex-protocol endpoint",
            Network.TESTNET: "Thalex testnet",
            Network.PRODUCTION: "THALEX PRODUCTION - LIVE, REAL MONEY",
        }[endpoint.network]
    try:
        journal, start = _open_journal(cfg, helper_cpus)
        summary: dict[str, Any] | None = None
        try:
            summary = await _run(
                cfg, endpoint, creds=creds, mode=mode, journal=journal, start=start, out=out
            )
            return summary
        finally:
            if journal is not None:
                why = summary["stop_reason"] if summary is not None else "error"
                journal.close(f"stopped by {why}")  # drains what is left (blocks briefly)
    finally:
        if exchange is not None:
            await exchange.stop()


@dataclass(frozen=True, slots=True)
class JournalStart:
    """What a (re)started run reads back from its journal before trading."""

    first_client_order_id: int = 1
    trade_ids: tuple[str, ...] = ()  # fills already journaled (the newest ones)
    earlier_runs: int = 0  # runs of this strategy already in the journal
    # estimator states for a warm start (app/warm_start.py), or why there is none
    warm: SavedStates = field(
        default_factory=lambda: SavedStates(off="nothing read from the journal")
    )
    first_run_ns: int | None = None  # the journal's first run's start (wall clock), if any


def _open_journal(cfg: AppConfig, writer_cpus: tuple[int, ...] = ()) -> tuple[Any, JournalStart]:
    """Open (and recover) the journal, then read what the restarted engine must not repeat;
    a writer process runs on ``writer_cpus`` (the CPUs ``run.cpu`` left; () anywhere)."""
    if not cfg.journal.enabled:
        return None, JournalStart(warm=SavedStates(off="no journal"))
    from thalex_mm.journal import JournalError, open_journal  # noqa: PLC0415

    j = cfg.journal
    overrides: dict[str, Any] = {
        "writer": j.writer,
        "writer_priority": j.writer_priority,
        "market_interval_ms": j.market_interval_ms,
        "max_commit_stall_s": j.max_commit_stall_s,
        "writer_cpus": writer_cpus,
    }
    if j.segment_dir is not None:
        overrides["segment_dir"] = j.segment_dir
    try:
        journal = open_journal(j.url, **overrides)
    except (JournalError, ValueError, OSError) as exc:
        hint = (
            " (or --journal URL for another one, or --no-journal)" if "in use" in str(exc) else ""
        )
        raise UserError(f"journal {redact_url(j.url)}: {exc}{hint}") from None
    try:
        start = read_journal_start(journal)
    except Exception as exc:  # a journal we cannot query must not stop trading
        log.warning("journal: cannot read the last client order ids and fills (%s)", exc)
        start = JournalStart(warm=SavedStates(off="the journal cannot be read back"))
    if not cfg.run.warm_start:
        start = replace(start, warm=SavedStates(off="--no-warm-start or run.warm_start = false"))
    else:
        start = replace(start, warm=_saved_states(journal, cfg.run.warm_start_max_age_s))
    return journal, start


def _saved_states(journal: Any, max_age_s: float) -> SavedStates:
    """The journal's estimator states young enough for a warm start (read after recovery)."""
    try:
        with journal.reader() as reader:
            return read_saved_states(reader, STRATEGY, now_ns=time.time_ns(), max_age_s=max_age_s)
    except Exception as exc:  # a cold start rather than no start
        log.warning("journal: cannot read the saved estimator states (%s)", exc)
        return SavedStates(off=f"cannot read the saved estimator states: {exc}")


# a catch-up reads at most CATCH_UP_PAGES x CATCH_UP_PAGE trades (10 x 1,000) and then one
# more page: remembering 11,000 keeps it exact (see venue/thalex/session_setup.py)
TRADE_IDS_REMEMBERED = 11_000
# A restart skips this many ids above the largest the journal holds: a margin (the runner
# journals an event's actions before it sends them, and ids also start from a wall-clock
# floor, see app/client_ids.py).
CLIENT_ID_GAP = 1_000


def read_journal_start(journal: Any, strategy: str = STRATEGY) -> JournalStart:
    """Client order ids to start from, fills already journaled, earlier runs (after recovery)."""
    from thalex_mm.journal.query import (  # noqa: PLC0415
        count_runs,
        first_run_ns,
        max_client_order_ids,
        recent_trade_ids,
    )

    with journal.reader() as reader:
        used = max_client_order_ids(reader, strategy)
        trade_ids = recent_trade_ids(reader, strategy, limit=TRADE_IDS_REMEMBERED)
        runs = count_runs(reader, strategy)
        since = first_run_ns(reader)
    first = max(used.values(), default=0) + 1 + (CLIENT_ID_GAP if runs else 0)
    return JournalStart(first, tuple(trade_ids), runs, first_run_ns=since)


class JournaledRunner(Runner):
    """The runner with fills journaled from the trade history (real fees), not the order feed."""

    def _build_engine(self) -> Any:
        engine = super()._build_engine()
        if self.bridge is not None:
            self.bridge.fills_from_trades = True
        return engine


def make_runner(
    cfg: AppConfig,
    endpoint: Endpoint,
    creds: Credentials | None,
    *,
    journal: Any,
    start: JournalStart,
    mode: str = "",
) -> Runner:
    """The runner ``thalex-mm run`` uses: subscribed to the trade history, and, with a
    journal, every fill journaled once with its real fee (``TradeJournal``)."""
    client_config = ClientConfig(
        public_channels=public_channels(cfg),
        private_channels=private_channels(cfg),
        account=cfg.venue.account,
        cancel_on_disconnect_s=cfg.venue.cancel_on_disconnect_s,
    )
    runner_type = Runner if journal is None else JournaledRunner
    runner = runner_type(
        cfg, endpoint, creds, journal=journal, mode=mode,
        first_client_order_id=first_client_order_id(start.first_client_order_id, time.time_ns()),
        client_config=client_config,
    )  # fmt: skip
    if journal is not None:
        runner.client.translator.trade_sink = TradeJournal(
            journal, STRATEGY, known=start.trade_ids, labels=order_labels(cfg),
            catch_up=start.earlier_runs > 0, fair_at=runner.fair_at_fill,
            # a fresh journal begins with this run: a reconnect's catch-up adopts nothing older
            since_ns=time.time_ns() if start.first_run_ns is None else start.first_run_ns,
        )  # fmt: skip
    if start.warm.off is None:
        runner.warm_start = start.warm  # restored when the engine is built, before its 1st event
    return runner


async def _run(
    cfg: AppConfig,
    endpoint: Endpoint,
    *,
    creds: Credentials,
    mode: str,
    journal: Any,
    start: JournalStart,
    out: TextIO,
) -> dict[str, Any]:
    runner = make_runner(cfg, endpoint, creds, journal=journal, start=start, mode=mode)
    from thalex_mm.app.live import open_live  # noqa: PLC0415
    from thalex_mm.journal.directory import new_run_id  # noqa: PLC0415

    run_id = journal.run_id if journal is not None else new_run_id()
    live = open_live(cfg, run_id, venue=endpoint.url, mode=mode)  # a port in use: stop here
    if live is not None:
        runner.live = live.feed
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.request_stop, sig.name)
    banner = start_banner(endpoint)
    if banner is not None:
        out.write(banner + "\n")
    duration = cfg.run.duration_s
    out.write(
        f"thalex-mm run: {mode} at {endpoint.url} | instruments "
        f"{', '.join(cfg.instrument_names)} | "
        f"{'for ' + format(duration, 'g') + ' s' if duration else 'until Ctrl-C'} | "
        f"journal {'off' if journal is None else redact_url(journal.settings.url)}\n"
    )
    if start.warm.off is not None:
        out.write(f"warm start: off ({start.warm.off})\n")
    if live is not None:
        out.write(live.describe() + "\n")

    def announce(line: str) -> None:  # the warm start's line, once the engine is built
        out.write(line + "\n")
        out.flush()

    runner.announce = announce
    out.flush()
    if journal is not None:
        from thalex_mm import __version__  # noqa: PLC0415
        from thalex_mm.app.settings import config_as_dict  # noqa: PLC0415

        journal.start_run(
            version=__version__, config=config_as_dict(cfg), venue=endpoint.url,
            strategy=STRATEGY,
        )  # fmt: skip
    try:
        return await runner.run(duration)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if live is not None:
            live.close()
