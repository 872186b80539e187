"""Fixtures for the journal tests (PostgreSQL's ``pg_url`` comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def sink_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once per transactional sink."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
