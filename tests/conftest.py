"""Fixtures for every tier: a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

#: the server the suite's PostgreSQL tests use (.ci/run starts it); a database is made per test
POSTGRES = os.environ.get("KYKYTUTKA_TEST_POSTGRES_SERVER", "host=127.0.0.1 port=5432 user=root")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    name = f"kykytutka_audit_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(f"{POSTGRES} dbname=postgres", autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:  # pragma: no cover - .ci/run starts PostgreSQL
        pytest.fail(f"PostgreSQL is not running ({POSTGRES}): {exc}")
    params = dict(item.split("=", 1) for item in POSTGRES.split())
    yield (
        f"postgresql+psycopg://{params.get('user', 'root')}@{params.get('host', '127.0.0.1')}:"
        f"{params.get('port', '5432')}/{name}"
    )
    with psycopg.connect(f"{POSTGRES} dbname=postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
