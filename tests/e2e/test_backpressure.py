"""Journal back-pressure: the runner stops opening new risk and says why."""

from __future__ import annotations

import asyncio
from typing import Any

from thalex_mm.app.runner import Runner
from thalex_mm.domain import Side
from thalex_mm.exchange.local import LocalExchange
from thalex_mm.journal.journal import Journal
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.networks import Endpoint, Network

from .conftest import app_config, exchange_config, wait_until


class _Settings:
    url = "sqlite:///fake.db"


class FakeJournal:
    """Accepts records; ``backpressure`` is set by the test."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.batches: list[int] = []  # the size of each append_batch call
        self.backpressure: str | None = None
        self.settings = _Settings()

    def append(self, record: Any) -> bool:
        self.records.append(record)
        return True

    def append_batch(self, records: Any) -> None:
        self.batches.append(len(records))
        self.records.extend(records)

    def offer_market(self, record: Any) -> bool:
        return self.append(record)

    def market_due(self, instrument: str, ts_ns: int) -> bool:
        return True

    def prefault(self) -> int:
        return 0


def _adds_risk(ex: LocalExchange, account: str) -> list[Any]:
    pos = ex.engine.position_lots(account, "BTC-PERPETUAL")
    risky = []
    for o in ex.engine.open_orders(account):
        lots = round(o.remaining_amount / 0.001)
        reduces = (pos > 0 and o.direction is Side.SELL and lots <= pos) or (
            pos < 0 and o.direction is Side.BUY and lots <= -pos
        )
        if not reduces:
            risky.append(o)
    return risky


async def test_backpressure_stops_new_risk_and_says_why() -> None:
    fake = FakeJournal()
    journal: Journal = fake  # type: ignore[assignment]
    async with LocalExchange(exchange_config()) as ex:
        key = ex.new_test_key()
        creds = Credentials(key.key_id, key.private_pem, "test")
        runner = Runner(app_config(), Endpoint(Network.LOCAL, ex.url), creds, journal=journal)
        task = asyncio.get_running_loop().create_task(runner.run(None))
        await wait_until(lambda: len(ex.engine.open_orders(key.account)) >= 2, 5.0, "quotes")
        fake.backpressure = "journal writer is 300 MB behind"
        await wait_until(lambda: runner.risk_blocked is not None, 2.0, "the block")
        await wait_until(lambda: not _adds_risk(ex, key.account), 3.0, "no risk-adding orders")
        await asyncio.sleep(0.5)
        assert not _adds_risk(ex, key.account)
        assert "300 MB behind" in runner.status_line(0.0, 0.0)
        runner.request_stop("test")
        await asyncio.wait_for(task, 10)
    assert runner.risk_blocked == "journal writer is 300 MB behind"
    kinds = {getattr(r, "kind", None) for r in fake.records}
    details = " ".join(getattr(r, "detail", "") for r in fake.records)
    assert "state" in kinds and "300 MB behind" in details  # the journal is told why


async def test_backpressure_that_clears_lets_risk_be_opened_again() -> None:
    # one slow moment of the writer must not stop opening risk for the rest of the run
    fake = FakeJournal()
    journal: Journal = fake  # type: ignore[assignment]
    async with LocalExchange(exchange_config()) as ex:
        key = ex.new_test_key()
        creds = Credentials(key.key_id, key.private_pem, "test")
        runner = Runner(app_config(), Endpoint(Network.LOCAL, ex.url), creds, journal=journal)
        task = asyncio.get_running_loop().create_task(runner.run(None))
        await wait_until(lambda: len(ex.engine.open_orders(key.account)) >= 2, 5.0, "quotes")
        fake.backpressure = "journal writer is 300 MB behind"
        await wait_until(lambda: runner.risk_blocked is not None, 2.0, "the block")
        fake.backpressure = None
        await wait_until(lambda: runner.risk_blocked is None, 2.0, "the block lifted")
        engine = runner.engine
        assert engine is not None
        await wait_until(
            lambda: all(i.risk.restriction is None for i in engine.instruments.values()),
            2.0,
            "no restriction",
        )
        assert "NO NEW RISK" not in runner.status_line(0.0, 0.0)
        runner.request_stop("test")
        await asyncio.wait_for(task, 10)
