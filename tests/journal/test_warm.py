"""``Journal.warm``: runs the append path on scratch memory and changes nothing anyone sees."""

from __future__ import annotations

import mmap
from pathlib import Path

import pytest

from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.query import Reader
from thalex_mm.journal.records import WARM_SAMPLE, Fill, QuoteDecision

from .helpers import count, sample_records


def _fill(i: int) -> Fill:
    return Fill(ts_ns=i, strategy="s", instrument="X", trade_id=f"T{i}", order_id="O")


def test_warming_writes_nothing_a_reader_or_the_recovery_sees(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    seg = tmp_path / "seg"
    journal = open_journal(url, segment_dir=seg, writer="none")
    journal.warm()  # before any append: the built-in sample
    committed = journal.control.committed
    journal.warm()
    assert journal.control.committed == committed and journal.appended == 0
    journal.append_batch(sample_records(2))
    committed = journal.control.committed
    for _ in range(3):
        journal.warm()  # with the batch just appended
    assert journal.control.committed == committed
    journal.append(_fill(99))
    journal.warm()
    journal.close()
    again = open_journal(url, segment_dir=seg, writer="none")  # recovery drains everything
    again.close()
    assert again.recovered_records == len(sample_records(2)) + 1
    assert count(url, "fills") == 3  # two in the sample batch, then T99
    with Reader(url) as reader:
        seqs = [row[0] for row in reader.rows("SELECT seq FROM fills ORDER BY seq")]
    assert seqs[-1] == len(sample_records(2)) + 1  # warming took no sequence numbers


def test_warming_survives_a_large_batch_and_a_batch_list_changed_afterwards(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    journal = open_journal(url, segment_dir=tmp_path / "s", writer="none")
    assert journal._warm_with is WARM_SAMPLE
    pair = [_fill(1), _fill(2)]
    journal.append_batch(pair)
    assert journal._warm_with is pair
    journal.append_batch([_fill(i) for i in range(10, 410)])  # too large to re-encode often
    assert journal._warm_with is pair  # keeps the last small batch
    big_record_batch = [_fill(i) for i in range(1000, 1016)]  # the largest remembered
    journal.append_batch(big_record_batch)
    assert journal._warm_with is big_record_batch
    journal.warm()
    batch = [_fill(2000), _fill(2001)]
    journal.append_batch(batch)
    batch.append(object())  # type: ignore[arg-type]  # the caller reuses its list
    journal.warm()  # cannot encode it: falls back to the built-in sample
    assert journal._warm_with is WARM_SAMPLE
    journal.warm()
    with pytest.raises(OverflowError):
        journal.append(_fill(2**70))  # fails to encode: not remembered, nothing appended
    assert journal._warm_with is WARM_SAMPLE
    journal.warm()
    ladder = QuoteDecision(ts_ns=1, strategy="s", instrument="X",
                           bids=[[100.0 - i, 1.0] for i in range(400)])  # fmt: skip
    journal.append(ladder)  # one record larger than the scratch page
    journal.warm()
    assert len(journal._scratch) > mmap.PAGESIZE
    journal.close()
    assert journal.appended == 2 + 400 + 16 + 2 + 1
    again = open_journal(url, segment_dir=tmp_path / "s", writer="none")
    again.close()
    assert again.recovered_records == journal.appended


def test_warming_a_closed_journal_does_nothing(tmp_path: Path) -> None:
    journal = open_journal(f"sqlite:///{tmp_path / 'j.db'}", segment_dir=tmp_path / "s",
                           writer="none")  # fmt: skip
    journal.close()
    journal.warm()  # the runner's poller may run once more while the run shuts down
