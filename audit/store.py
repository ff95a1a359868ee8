"""The audit store: every assessment, written before the answer is sent.

SQLite by default, PostgreSQL by URL (SQLAlchemy Core). Client references are stored only as a
keyed hash (HMAC-SHA256); the stored inputs hold no direct identifier and no free text.
"""

from __future__ import annotations

import contextlib
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


# Outcomes confirmed later by a work-ability coordinator (POST .../outcome): the labels monitoring
# measures quality and fairness with, and `kykytutka train --audit-url` retrains on. A correction is
# a new row; the newest row of a decision is its outcome, the older ones stay as its history.
outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(36), nullable=False, index=True),
    sa.Column("needs_support", sa.Boolean, nullable=False),
    sa.Column("support_level", sa.String(16)),
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
)


class AuditUnavailable(RuntimeError):
    """The audit store cannot be written: no decision may go out unlogged."""


def pseudonymise(client_ref: str, key: str) -> str:
    return hmac.new(key.encode(), client_ref.encode(), hashlib.sha256).hexdigest()


class AuditStore:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        sqlite = url.startswith("sqlite")
        # A server connection can drop between requests: test it at checkout. A SQLite file
        # cannot, and the test would be a query on every request.
        self.engine: Engine = sa.create_engine(url, pool_pre_ping=not sqlite)
        if sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        self._inserts: dict[tuple[str, tuple[str, ...]], _Insert] = {}

    def record(self, rows: list[dict[str, Any]]) -> None:
        self._write(decisions, rows)

    def record_feedback(self, rows: list[dict[str, Any]]) -> None:
        self._write(feedback, rows)

    def _write(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` in one transaction, or raise AuditUnavailable having written none."""
        if not rows:
            return
        columns = tuple(c.name for c in table.columns if c.name in rows[0])
        insert = self._inserts.get((table.name, columns))
        if insert is None:
            insert = self._inserts[(table.name, columns)] = _Insert(table, columns, self.engine)
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            connection = self.engine.raw_connection()
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(str(exc).splitlines()[0]) from exc
        try:
            cursor = connection.cursor()
            try:
                parameters: list[Any] = [insert.parameters(row) for row in rows]
                cursor.executemany(insert.sql, parameters)
            finally:
                cursor.close()
            connection.commit()
        except dbapi_error as exc:
            with contextlib.suppress(dbapi_error):
                connection.rollback()
            if self.engine.dialect.is_disconnect(exc, connection.dbapi_connection, None):
                connection.invalidate(exc)
            raise AuditUnavailable(str(exc).splitlines()[0]) from exc
        finally:
            connection.close()  # back to the pool

    def record_outcome(self, row: dict[str, Any]) -> None:
        self._write(outcomes, [row])

    def outcomes_for(self, decision_id: str) -> list[dict[str, Any]]:
        """Every outcome recorded for a decision, oldest first (the last one counts)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(outcomes)
                .where(outcomes.c.decision_id == decision_id)
                .order_by(outcomes.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

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


class _Insert:
    """One INSERT, prepared once and run on the pool's DBAPI connection.

    SQLAlchemy Core's per-statement machinery (cache key, execution context, result) cost more
    than the insert itself: about 0.4 ms of a 3 ms assessment. Values still go through each
    column type's own bind processor for the dialect, so the stored values are exactly those
    Core would store (the auditor reads them back through Core).
    """

    def __init__(self, table: sa.Table, columns: tuple[str, ...], engine: Engine) -> None:
        dialect = engine.dialect
        quote = dialect.identifier_preparer.quote
        style = dialect.paramstyle
        self.named = style in ("named", "pyformat")
        self.columns = columns
        marks = [
            {
                "qmark": "?",
                "format": "%s",
                "numeric": f":{i + 1}",
                "numeric_dollar": f"${i + 1}",
                "named": f":{name}",
                "pyformat": f"%({name})s",
            }[style]
            for i, name in enumerate(columns)
        ]
        self.sql = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
            f"({', '.join(quote(name) for name in columns)}) VALUES ({', '.join(marks)})"
        )
        self.processors = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
        ]

    def parameters(self, row: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [
            row[name] if process is None or row[name] is None else process(row[name])
            for name, process in zip(self.columns, self.processors, strict=True)
        ]
        return dict(zip(self.columns, values, strict=True)) if self.named else tuple(values)


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
