"""The audit store: every assessment, written before the answer is sent.

SQLite by default, PostgreSQL by URL (SQLAlchemy Core). Client references are stored only as a
keyed hash (HMAC-SHA256); the stored inputs hold no direct identifier and no free text.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()
decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("decision_id", sa.String(36), primary_key=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("client_ref_hash", sa.String(64), nullable=False, index=True),
    sa.Column("booking_id", sa.String(64), nullable=False),
    sa.Column("model_name", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("contract_version", sa.String(16), nullable=False),
    sa.Column("alert_probability", sa.Float, nullable=False),
    sa.Column("alert", sa.Boolean, nullable=False),
    sa.Column("segment_id", sa.String(16), nullable=False),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("output", sa.JSON, nullable=False),
)


# What staff did with each card (CDS Hooks feedback): agreement and overrides are recorded so that
# automation bias can be seen (DOMAIN.md, the Polish profiling case). Override comments are free
# text and are not stored; only the reason code is.
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(36), nullable=False, index=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("override_reason", sa.String(64)),
    sa.Column("outcome_at", sa.DateTime(timezone=True)),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)


class AuditUnavailable(RuntimeError):
    """The audit store cannot be written: no decision may go out unlogged."""


def pseudonymise(client_ref: str, key: str) -> str:
    return hmac.new(key.encode(), client_ref.encode(), hashlib.sha256).hexdigest()


class AuditStore:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = sa.create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    def record(self, rows: list[dict[str, Any]]) -> None:
        self._write(decisions, rows)

    def record_feedback(self, rows: list[dict[str, Any]]) -> None:
        self._write(feedback, rows)

    def _write(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(table.insert(), rows)
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(str(exc).splitlines()[0]) from exc

    def feedback_for(self, decision_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(feedback).where(feedback.c.decision_id == decision_id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def get(self, decision_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(decisions).where(decisions.c.decision_id == decision_id)
            ).first()
        return None if row is None else dict(row._mapping)

    def checkpoint(self) -> None:
        """Fold SQLite's write-ahead log into the database (background work; no-op elsewhere)."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint, fast commits
    # No checkpoint inside a request's commit (it fsyncs and stalls that request); the service
    # runs checkpoints in the background instead (AuditStore.checkpoint).
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def now() -> datetime:
    return datetime.now(UTC)
