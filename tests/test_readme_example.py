"""The README's 30-line example is the file in examples/, and it runs."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_shows_the_example_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / "examples" / "drive_the_core.py").read_text(encoding="utf-8")
    assert f"```python\n{example}```" in readme


def test_the_example_quotes_both_sides_outside_the_fee_and_reacts_to_its_fill(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runpy.run_path(str(ROOT / "examples" / "drive_the_core.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    inserts = [line for line in lines if line.startswith("Insert(")]
    assert len(inserts) == 5  # four levels, then the filled bid replaced
    prices = [int(line.split("price_ticks=")[1].split(",")[0]) for line in inserts[:4]]
    assert max(prices[:2]) < 80_000 - 8 and min(prices[2:]) > 80_000 + 8  # beyond the fee
    assert lines[-1] == "position 0.001 BTC"
