"""The status line stays one short line however many instruments are quoted."""

from types import SimpleNamespace

from thalex_mm.app.reporting import _aggregate


def _row(i: int, bids: int, asks: int, pos: float, pnl: float, state: str = "ACTIVE") -> tuple:
    st = SimpleNamespace(fills=i, rejections=i % 3)
    return (f"SYN{i:03d}-PERPETUAL", bids, asks, pos, st, pnl, state)


def test_aggregate_counts_and_totals() -> None:
    rows = [
        _row(1, 2, 2, 0.0, 1.5),
        _row(2, 2, 0, 0.01, -3.25, "REDUCING"),
        _row(3, 0, 0, 0.0, 0.5, "HALTED"),
        _row(4, 1, 1, -0.02, 0.25),
    ]
    text = _aggregate(rows)  # type: ignore[arg-type]
    assert text.startswith("4 instruments: quoting both sides 2, one side 1, none 1")
    assert "open positions 2" in text
    assert "fills 10 rejected 4" in text  # 1+2+3+4, 1+2+0+1
    assert "pnl -1.00 (worst SYN002-PERPETUAL -3.25)" in text
    assert text.endswith("ACTIVE 2 HALTED 1 REDUCING 1")


def test_aggregate_size_does_not_grow_with_instruments() -> None:
    small = _aggregate([_row(i, 2, 2, 0.0, 0.0) for i in range(1, 11)])  # type: ignore[arg-type]
    large = _aggregate([_row(i, 2, 2, 0.0, 0.0) for i in range(1, 1001)])  # type: ignore[arg-type]
    assert len(large) - len(small) < 20  # only the digits of the counts grow
    assert len(large) < 300
