"""Fixtures for the report tests: a scripted run written to a journal (PostgreSQL's
``pg_url`` comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .scenario import write_scenario


@pytest.fixture
def scenario_url(tmp_path: Path) -> str:
    """A SQLite journal holding two scripted runs ("run-a", "run-b")."""
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    write_scenario(url, "run-a", seed=1)
    write_scenario(url, "run-b", seed=2)
    return url
