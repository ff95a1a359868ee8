"""Audit stores to test on: a SQLite file, and a throwaway PostgreSQL database per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from audit.store import AuditStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An audit store's URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[AuditStore]:
    opened = AuditStore(store_url, timeout=2.0)
    yield opened
    opened.close()


T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def decision(number: int, **changes: Any) -> dict[str, Any]:
    """A decision row as the service writes it (made by the key ``booking-1``)."""
    row = {
        "decision_id": str(uuid.UUID(int=number + 1)),
        "decided_at": T0 + timedelta(minutes=number),
        "client_ref_hash": f"{number:064x}",
        "booking_id": f"B-{number}",
        "model_name": "kykytutka",
        "model_version": "3",
        "contract_version": "1.2.0",
        "alert_probability": 0.1 + number / 1000,
        "alert": number % 3 == 0,
        "segment_id": f"S{number % 4}",
        "inputs": {"age": 30 + number % 40, "sex": "female", "client_ref": None, "kieli": "ä"},
        "output": {"alert_level": "high", "contributions": {"age": 0.25, "was": -1e-7}},
        "made_by": "booking-1",
    }
    return {**row, **changes}


def feedback_row(number: int, **changes: Any) -> dict[str, Any]:
    return {
        "decision_id": str(uuid.UUID(int=number + 1)),
        "outcome": "overridden",
        "override_reason": "staff-judgement",
        "outcome_at": T0 + timedelta(minutes=number, seconds=30),
        "received_at": T0 + timedelta(minutes=number, seconds=31),
        "recorded_by": "booking-1",
        **changes,
    }


def outcome_row(number: int, **changes: Any) -> dict[str, Any]:
    return {
        "decision_id": str(uuid.UUID(int=number + 1)),
        "needs_support": True,
        "support_level": "team",
        "confirmed_at": T0 + timedelta(days=3),
        "received_at": T0 + timedelta(days=3, seconds=1),
        "recorded_by": "coordinator-1",
        **changes,
    }


def fill(store: AuditStore, count: int = 4) -> None:
    """``count`` decisions, each followed by its feedback and an outcome (seq 1, 2, 3, 4, ...)."""
    for number in range(count):
        store.record([decision(number)])
        store.record_feedback([feedback_row(number)])
        store.record_outcome(outcome_row(number))


def execute(url: str, sql: str, **params: Any) -> None:
    """Tampering as an intruder would: SQL straight on the database, past the store."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def scalar(url: str, sql: str) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()
