"""A corrupt journal is refused at start; client order ids never restart low (#16.8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from thalex_mm.app.client_ids import IDS_PER_MS, client_id_floor
from thalex_mm.app.launch import JournalStart, make_runner
from thalex_mm.app.settings import AppConfig
from thalex_mm.cli.main import main
from thalex_mm.journal import OrderAction, open_journal
from thalex_mm.venue.thalex.networks import Endpoint, Network


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _corrupt_journal(path: Path) -> str:
    """A journal of 20,000 orders with 8 pages in the middle of the file overwritten."""
    url = f"sqlite:///{path}"
    journal = open_journal(url, writer="thread")
    journal.start_run(version="t", config={}, venue="x", strategy="mm")
    for cid in range(1, 20_000):
        journal.append(
            OrderAction(
                ts_ns=cid, strategy="mm", instrument="BTC-PERPETUAL", action="insert",
                client_order_id=cid, side=1, price=1.0, amount=1.0, post_only=True,
            )
        )  # fmt: skip
    journal.close("done")
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(size // 3 // 4096 * 4096)
        f.write(os.urandom(8 * 4096))
    return url


def test_run_refuses_a_corrupt_journal_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = _corrupt_journal(tmp_path / "j.db")
    rc = main(["run", "--journal", url, "--duration", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert "is corrupt" in err[0] and "move it aside" in err[0] and "Traceback" not in err[0]


def test_the_first_client_order_id_is_floored_by_the_clock_without_a_journal() -> None:
    endpoint = Endpoint(Network.LOCAL, "ws://127.0.0.1:1/ws/api/v2")
    runner = make_runner(AppConfig(), endpoint, None, journal=None, start=JournalStart())
    assert runner.first_client_order_id > 10_390  # the ids the lost journal's run had used
    # a later run starts above every id an earlier run could send at 10 ids per ms
    t0 = 1_800_000_000 * 10**9
    assert client_id_floor(t0 + 1_000_000) >= client_id_floor(t0) + IDS_PER_MS
    assert client_id_floor(t0) < 2**53
