"""Fixtures for the report tests: a scripted run written to a journal, and PostgreSQL.

PostgreSQL as in tests/journal: ``THALEX_MM_PG_URL`` if set, else a throwaway cluster from
the installed server binaries, else skipped, unless ``THALEX_MM_REQUIRE_PG=1`` (CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from thalex_mm.journal.throwaway_pg import ThrowawayCluster, start_cluster

from .scenario import write_scenario


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    url = os.environ.get("THALEX_MM_PG_URL")
    if url:
        yield url
        return
    cluster: ThrowawayCluster | None = None
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        reason = f"PostgreSQL not available: {exc} (install the 'postgresql' package)"
        if os.environ.get("THALEX_MM_REQUIRE_PG", "") == "1":
            pytest.fail(f"THALEX_MM_REQUIRE_PG=1 but {reason}")
        pytest.skip(reason)
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    name = f"tmm_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield urlsplit(pg_server_url)._replace(path=f"/{name}").geturl()
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def scenario_url(tmp_path: Path) -> str:
    """A SQLite journal holding two scripted runs ("run-a", "run-b")."""
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    write_scenario(url, "run-a", seed=1)
    write_scenario(url, "run-b", seed=2)
    return url
