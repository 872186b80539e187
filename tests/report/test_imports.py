"""docs/architecture.md's rule for report/: it imports the journal, errors and the package
version, nothing else of thalex_mm (no app, core, venue or exchange)."""

from __future__ import annotations

import ast
from pathlib import Path

import thalex_mm.report

ALLOWED = ("thalex_mm.journal", "thalex_mm.errors", "thalex_mm.report")


def test_report_imports_only_what_the_architecture_allows() -> None:
    folder = Path(thalex_mm.report.__file__).parent
    seen = set()
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] if node.module != "thalex_mm" else []
                if node.module == "thalex_mm":
                    assert [a.name for a in node.names] == ["__version__"], path
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("thalex_mm"):
                    seen.add(name)
                    assert name.startswith(ALLOWED), f"{path.name} imports {name}"
    assert "thalex_mm.journal.query" in seen  # the check looked at real imports
