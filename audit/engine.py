"""Opening the audit store's database: the engine, a new SQLite file owner-only, the pragmas, the
tables (and a clear refusal of a store made before the hash chain)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from audit.chain import canonical_json
from audit.jobs import AuditUnavailable
from audit.schema import GENESIS, metadata, missing_columns


class AuditSchemaError(AuditUnavailable):
    """The database was made by an older release (no chain columns): it cannot be written."""


def shown(url: str) -> str:
    """The URL as it may be printed: without its password."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(not a database URL)"


def open_engine(url: str, synchronous: str = "FULL") -> Engine:
    """An engine on the store at ``url``; a new SQLite file is created owner-only (0600)."""
    sqlite = url.startswith("sqlite")
    if sqlite:
        database = sa.engine.make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            _create_owner_only(Path(database))
    # A server connection can drop between requests: test it at checkout. A SQLite file
    # cannot, and the test would be a query on every request.
    engine = sa.create_engine(url, pool_pre_ping=not sqlite, json_serializer=canonical_json)
    if sqlite:
        sa.event.listen(engine, "connect", _sqlite_pragmas(synchronous))
    return engine


def prepare(engine: Engine, url: str) -> None:
    """Create what is missing (tables, the chain's head); refuse a store of an older release."""
    for attempt in range(5):  # several worker processes may start on a new store at once
        try:
            with engine.begin() as connection:
                missing = missing_columns(connection, absent=False)  # before creating anything
                if missing:
                    lacking = "; ".join(f"{t} lacks {', '.join(c)}" for t, c in missing.items())
                    raise AuditSchemaError(
                        f"the audit store at {shown(url)} was made by an older release "
                        f"({lacking}): it has no tamper-evident chain and cannot be written. Keep "
                        "it for reading and start a new store (another KYKYTUTKA_AUDIT_URL); "
                        "there is no migration"
                    )
                metadata.create_all(connection)
                connection.exec_driver_sql(
                    f"INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '{GENESIS}') "
                    "ON CONFLICT DO NOTHING"
                )
            return
        except (sa.exc.OperationalError, sa.exc.IntegrityError):
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def _create_owner_only(path: Path) -> None:
    """Create an empty database file readable by its owner only, before SQLite opens it (SQLite
    gives its -wal and -shm files the database file's mode)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(descriptor, 0o600)  # whatever the umask
        os.close(descriptor)


def _sqlite_pragmas(synchronous: str) -> Any:
    if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"synchronous: {synchronous!r} is not a SQLite synchronous mode")

    def pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        with contextlib.suppress(Exception):  # a read-only file stays readable
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        # FULL: the WAL is synced at every commit, so an acknowledged write survives a power
        # loss (NORMAL syncs only at checkpoints: durable across a crash, not a power loss).
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        # No checkpoint inside a request's commit (it fsyncs and stalls that request); the
        # service runs checkpoints in the background instead (AuditStore.checkpoint).
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    return pragmas
