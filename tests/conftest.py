"""Fixtures shared by every test folder: a real PostgreSQL server.

PostgreSQL, in order: ``THALEX_MM_PG_URL`` if set; else a throwaway cluster started from the
installed server binaries (Debian package ``postgresql``) for this test session; else the
PostgreSQL tests are skipped with the reason, unless ``THALEX_MM_REQUIRE_PG=1`` (set by
``.ci/run``), in which case they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

from thalex_mm.journal.throwaway_pg import ThrowawayCluster, start_cluster


def _require_pg() -> bool:
    return os.environ.get("THALEX_MM_REQUIRE_PG", "") == "1"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server whose superuser may create databases."""
    url = os.environ.get("THALEX_MM_PG_URL")
    if url:
        yield url
        return
    cluster: ThrowawayCluster | None = None
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        reason = f"PostgreSQL not available: {exc} (install the 'postgresql' package)"
        if _require_pg():
            pytest.fail(f"THALEX_MM_REQUIRE_PG=1 but {reason}")
        pytest.skip(reason)
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database on the server, dropped after the test."""
    name = f"tmm_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(pg_server_url)
    yield parts._replace(path=f"/{name}").geturl()
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
