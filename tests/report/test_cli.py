"""``thalex-mm report`` on the command line: the file, the terminal headline, and bad input
as one line with exit code 2."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from thalex_mm.cli.main import main
from thalex_mm.journal.query import Reader
from thalex_mm.report.html import SECTIONS
from thalex_mm.report.load import load_run, select_runs
from thalex_mm.report.metrics import build

from .scenario import write_scenario


class _Refs(HTMLParser):
    """Tags that would load something: script src, link href, img src, iframe src."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in {("script", "src"), ("link", "href"), ("img", "src"),
                               ("iframe", "src")}:  # fmt: skip
                self.refs.append(f"{tag} {value}")


def _external_refs(page: str) -> list[str]:
    parser = _Refs()
    parser.feed(page)
    return parser.refs


def _one_error_line(capsys: pytest.CaptureFixture[str], *words: str) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("thalex-mm report: error: ")
    for w in words:
        assert w in err


def test_writes_one_offline_page_and_prints_the_headline(
    scenario_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "--journal", scenario_url, "--run", "run-a", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    with Reader(scenario_url) as reader:
        rep = build(load_run(reader, select_runs(reader, ["run-a"])[0]))
    assert f"{rep.headline.total_pnl:+.4f}" in text
    assert f"{rep.headline.fills} ({rep.headline.maker_fills})" in text
    page = out.read_text()
    for name in SECTIONS:
        assert f'id="{name}-0"' in page
    assert 'id="compare"' not in page
    assert _external_refs(page) == []  # nothing to fetch: plotly.js is inline
    assert out.stat().st_size < 6_000_000


def test_default_is_the_latest_run_and_compare_takes_the_latest_two(
    scenario_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "--journal", scenario_url, "--out", str(out)]) == 0
    assert "run-b" in capsys.readouterr().out.splitlines()[0]
    assert main(["report", "--journal", scenario_url, "--compare", "--out", str(out)]) == 0
    first = capsys.readouterr().out.splitlines()[0].split()
    assert first[1:] == ["run-a", "run-b"]
    page = out.read_text()
    assert 'id="compare"' in page and 'id="headline-1"' in page


def test_missing_journal_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'nope.db'}"
    assert main(["report", "--journal", url, "--out", str(tmp_path / "r.html")]) == 2
    _one_error_line(capsys, "does not exist")
    assert not (tmp_path / "r.html").exists()


def test_unknown_run_is_one_line(
    scenario_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--journal", scenario_url, "--run", "run-zz", "--out", str(tmp_path / "r")]
    assert main(args) == 2
    _one_error_line(capsys, "'run-zz'")


def test_compare_needs_two_runs_and_out_needs_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    write_scenario(url, "only", seed=1)
    assert main(["report", "--journal", url, "--compare", "--out", str(tmp_path / "r")]) == 2
    _one_error_line(capsys, "--compare")
    assert main(["report", "--journal", url, "--out", str(tmp_path / "no" / "r.html")]) == 2
    _one_error_line(capsys, "does not exist")


def test_a_journal_with_no_runs_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from thalex_mm.journal.sinks.base import make_sink  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    sink = make_sink(url)
    sink.open()
    sink.close()
    assert main(["report", "--journal", url, "--out", str(tmp_path / "r.html")]) == 2
    _one_error_line(capsys, "no runs")


def test_a_run_with_nothing_in_it_and_one_that_crashed_still_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No fills, no market, no stop record: the page is written, the numbers say n/a or 0,
    and the run ends at its last record."""
    from thalex_mm.journal.records import QuoteDecision, RunStart  # noqa: PLC0415

    from .scenario import T0, write_records  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'j.db'}"
    write_records(url, "empty", [RunStart(ts_ns=T0, version="t")])
    quote = QuoteDecision(ts_ns=T0 + 5_000_000_000, strategy="mm", instrument="X", mid=10.0,
                          bids=[[9.0, 1.0]], asks=[[11.0, 1.0]])  # fmt: skip
    write_records(url, "crashed", [RunStart(ts_ns=T0 + 1, version="t"), quote])
    for run in ("empty", "crashed"):
        out = tmp_path / f"{run}.html"
        assert main(["report", "--journal", url, "--run", run, "--out", str(out)]) == 0
        assert 'id="latency-0"' in out.read_text()
    text = capsys.readouterr().out
    assert "fills (maker)" in text and "0 (0)" in text
    with Reader(url) as reader:
        rep = build(load_run(reader, select_runs(reader, ["crashed"])[0]))
    assert rep.headline.duration_s == pytest.approx(5.0, abs=1e-8)
    assert rep.headline.total_pnl == 0.0
    assert rep.headline.fair_source == "quote mid"
