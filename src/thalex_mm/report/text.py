"""The headline numbers for the terminal: the same rows as the HTML's headline table."""

from __future__ import annotations

from collections.abc import Sequence

from thalex_mm.report.html import headline_rows
from thalex_mm.report.metrics import RunReport


def headline_text(reports: Sequence[RunReport]) -> str:
    """One column per run, aligned."""
    rows = headline_rows(reports)
    label_w = max(len(r[0]) for r in rows)
    widths = [max(len(r[c]) for r in rows) for c in range(1, len(rows[0]))]
    lines = [
        f"{r[0]:<{label_w}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(r[1:], widths, strict=True))
        for r in rows
    ]
    return "\n".join(lines)
