"""The audit store: every assessment, written before the answer is sent, on a tamper-evident chain.

SQLite by default, PostgreSQL by URL (SQLAlchemy Core). Client references are stored only as a
keyed hash (HMAC-SHA256); the stored inputs hold no direct identifier and no free text.

Writes go onto the hash chain (``audit.chain``) through the store's one writer thread
(``audit.writer``), which commits them in groups, except SQLite's writes from an event loop, which
the loop commits itself (``audit.loopcommit``). ``record``/``record_feedback``/``record_outcome``
block their (worker) thread up to the store's timeout; ``arecord`` and the other ``a...`` variants
await the same on the event loop without blocking it. Either writes everything it was given or
raises AuditUnavailable having written none (one exception: a commit whose sync to the disk then
failed stays in the store, see ``audit.loopcommit``). An acknowledged write survives a power loss:
SQLite syncs the WAL before the answer (``synchronous=FULL``, or the loop's own sync after the
commit), PostgreSQL commits durably.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from audit.checkpoints import Checkpoint, Signer
from audit.engine import AuditSchemaError, open_engine, prepare, shown
from audit.jobs import Action, AuditUnavailable, Job
from audit.loopcommit import LoopCommit
from audit.schema import GENESIS, chain_head, checkpoints, decisions, feedback, heartbeat, outcomes
from audit.writer import Writer

__all__ = [
    "AuditSchemaError",
    "AuditStore",
    "AuditUnavailable",
    "decisions",
    "feedback",
    "now",
    "outcomes",
    "pseudonymise",
    "shown",
]

#: how long ``arecord`` may hold the event loop waiting for a write before it awaits it (seconds)
INLINE_WAIT = 0.005
#: how much of the store's timeout a transaction may spend waiting for the lock
LOCK_SHARE = 0.9


def pseudonymise(client_ref: str, key: str) -> str:
    return hmac.new(key.encode(), client_ref.encode(), hashlib.sha256).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


class AuditStore:
    """The audit store at ``url``. ``timeout``: how long a write may take before it is given up
    (AuditUnavailable, nothing written); ``synchronous``: SQLite's, FULL unless measuring."""

    def __init__(self, url: str, timeout: float = 1.0, synchronous: str = "FULL") -> None:
        self.url = url
        self.timeout = timeout
        self.engine: Engine = open_engine(url, synchronous)
        prepare(self.engine, url)
        self._writer = Writer(self.engine, lock_wait=timeout * LOCK_SHARE)
        durable = synchronous.upper() in ("FULL", "EXTRA")
        self._on_loop = LoopCommit(self._writer, durable) if self._writer.sqlite else None
        self._awaiting = 0  # requests awaiting a write (read and changed on the event loop only)
        weakref.finalize(self, self._writer.stop, 0)

    # -- writing -----------------------------------------------------------------------------

    def decision_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The decision rows to write for ``rows``: a wrapper may add to them (both ``record``
        and ``arecord`` go through here)."""
        return rows

    def record(self, rows: list[dict[str, Any]], timeout: float | None = None) -> None:
        self._wait(*self._submit("decisions", self.decision_rows(rows), timeout))

    def record_feedback(self, rows: list[dict[str, Any]], timeout: float | None = None) -> None:
        self._wait(*self._submit("feedback", rows, timeout))

    def record_outcome(self, row: dict[str, Any], timeout: float | None = None) -> None:
        self._wait(*self._submit("outcomes", [row], timeout))

    async def arecord(self, rows: list[dict[str, Any]], timeout: float | None = None) -> None:
        await self._awrite("decisions", self.decision_rows(rows), timeout)

    async def arecord_feedback(
        self, rows: list[dict[str, Any]], timeout: float | None = None
    ) -> None:
        await self._awrite("feedback", rows, timeout)

    async def arecord_outcome(self, row: dict[str, Any], timeout: float | None = None) -> None:
        await self._awrite("outcomes", [row], timeout)

    async def _awrite(self, table: str, rows: list[dict[str, Any]], timeout: float | None) -> None:
        """On the event loop: SQLite's writes on the loop itself (``audit.loopcommit``),
        PostgreSQL's through the writer thread, awaited without holding the loop."""
        seconds = self.timeout if timeout is None else timeout
        if not rows:
            return
        job = Job(time.monotonic() + seconds, rows=[(table, row) for row in rows])
        if self._on_loop is not None and await self._on_loop.write(job):
            return
        await self._await(self._writer.submit(job), job.deadline, seconds)

    def check_writable(self, timeout: float | None = None) -> str | None:
        """None if a write commits within the timeout, else why not: the heartbeat, a row outside
        the chain, written through the writer under the chain head's lock as decisions are."""
        if self._on_loop is not None and self._on_loop.failure is not None:
            return self._on_loop.failure
        try:
            self._wait(*self._act(self._beat, True, timeout))
        except AuditUnavailable as exc:
            return str(exc)
        return None

    def writable(self, timeout: float | None = None) -> bool:
        return self.check_writable(timeout) is None

    def sign_checkpoint(self, signer: Signer, timeout: float | None = None) -> Checkpoint | None:
        """Sign the chain head into a checkpoint if it moved since the last one (None if not)."""
        seq, _ = self.head()
        if seq == 0 or seq == self.last_checkpoint_seq():
            return None

        def sign(cursor: Any, head: tuple[int, str] | None) -> Checkpoint | None:
            assert head is not None
            cursor.execute("SELECT max(seq) FROM checkpoints")
            last = cursor.fetchone()[0]
            if head[0] == 0 or (last is not None and last >= head[0]):
                return None  # another process signed this head meanwhile
            checkpoint = signer.sign(head[0], head[1], now())
            values = {
                "seq": checkpoint.seq,
                "hash": checkpoint.hash,
                "signed_at": checkpoint.signed_at,
                "algorithm": checkpoint.algorithm,
                "key_id": checkpoint.key_id,
                "signature": checkpoint.signature,
            }
            cursor.execute(*_raw_insert(self.engine, checkpoints, values))
            return checkpoint

        result: Checkpoint | None = self._wait(*self._act(sign, True, timeout))
        return result

    def _beat(self, cursor: Any, _head: tuple[int, str] | None) -> None:
        """The readiness heartbeat: one row outside the chain, rewritten."""
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        (stamp,) = _bound(self.engine, heartbeat, {"beat_at": now()})
        cursor.execute(f"UPDATE heartbeat SET beat_at = {mark} WHERE id = 1", (stamp,))
        if cursor.rowcount == 0:
            cursor.execute(f"INSERT INTO heartbeat (id, beat_at) VALUES (1, {mark})", (stamp,))

    # -- reading -----------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """The chain's head: the last row's (seq, hash), (0, 64 zeros) when empty."""
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)
            ).first()
        return (0, GENESIS) if found is None else (int(found.seq), str(found.hash))

    def last_checkpoint_seq(self) -> int | None:
        with self.engine.connect() as connection:
            found = connection.execute(sa.select(sa.func.max(checkpoints.c.seq))).scalar()
        return None if found is None else int(found)

    def outcomes_for(self, decision_id: str) -> list[dict[str, Any]]:
        """Every outcome recorded for a decision, oldest first (the last one counts)."""
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(outcomes)
                .where(outcomes.c.decision_id == decision_id)
                .order_by(outcomes.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def feedback_for(self, decision_id: str) -> list[dict[str, Any]]:
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(feedback)
                .where(feedback.c.decision_id == decision_id)
                .order_by(feedback.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def feedback_counts(self, decision_ids: Sequence[str]) -> dict[str, int]:
        """How many feedback rows each of ``decision_ids`` has (one with none is left out): one
        query for them all, on the index of ``feedback.decision_id``."""
        if not decision_ids:
            return {}
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(feedback.c.decision_id, sa.func.count())
                .where(feedback.c.decision_id.in_(sorted(set(decision_ids))))
                .group_by(feedback.c.decision_id)
            ).all()
        return {str(decision_id): int(count) for decision_id, count in rows}

    def get(self, decision_id: str) -> dict[str, Any] | None:
        with self._reading() as connection:
            row = connection.execute(
                sa.select(decisions).where(decisions.c.decision_id == decision_id)
            ).first()
        return None if row is None else dict(row._mapping)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        """A connection to read with; a store that cannot be read raises AuditUnavailable (the
        service answers 503), with the error's type and first line, never a row's values."""
        try:
            with self.engine.connect() as connection:
                yield connection
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(f"cannot read the audit store: {type(exc).__name__}") from None

    # -- upkeep --------------------------------------------------------------------------------

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

    def close(self) -> None:
        """Stop the writer (after the writes already queued) and close the connections."""
        if self._on_loop is not None:
            self._on_loop.close()
        self._writer.stop()
        self.engine.dispose()

    # -- the writer's callers ------------------------------------------------------------------

    def _submit(
        self, table: str, rows: list[dict[str, Any]], timeout: float | None
    ) -> tuple[Future[Any] | None, float, float]:
        seconds = self.timeout if timeout is None else timeout
        if not rows:
            return None, 0.0, 0.0
        job = Job(time.monotonic() + seconds, rows=[(table, row) for row in rows])
        return self._writer.submit(job), job.deadline, seconds

    def _act(
        self, action: Action, lock_head: bool, timeout: float | None
    ) -> tuple[Future[Any], float, float]:
        seconds = self.timeout if timeout is None else timeout
        job = Job(time.monotonic() + seconds, action=action, lock_head=lock_head)
        return self._writer.submit(job), job.deadline, seconds

    @staticmethod
    def _wait(future: Future[Any] | None, deadline: float, grace: float) -> Any:
        """The write's result by its deadline. If the writer already has it in hand then, wait
        for how it ends (bounded by the lock timeouts): a write is never reported as failed and
        then committed."""
        if future is None:
            return None
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            if future.cancel():
                raise AuditUnavailable(
                    "the audit store did not take the write in time; nothing was written"
                ) from None
        try:
            return future.result(timeout=grace)
        except FutureTimeout:
            raise AuditUnavailable("the audit write did not finish in time") from None

    async def _await(self, future: Future[Any] | None, deadline: float, grace: float) -> Any:
        """``_wait`` for the event loop: waits in place at most ``INLINE_WAIT`` (a write usually
        takes under a millisecond), then awaits the writer's future without blocking the loop.

        Awaiting at once cost more than the write: at 200 requests a second the median request
        took 40 ms instead of 4 (the loop went on to other requests while each write's result
        waited behind them); a locked or slow store still holds the loop no longer than this."""
        if future is None:
            return None
        if not self._awaiting:  # alone: in place; with others waiting, join their group commit
            with contextlib.suppress(FutureTimeout):
                wait = min(INLINE_WAIT, max(0.0, deadline - time.monotonic()))
                return future.result(timeout=wait)
        self._awaiting += 1
        try:
            return await self._awaited(future, deadline, grace)
        finally:
            self._awaiting -= 1

    @staticmethod
    async def _awaited(future: Future[Any], deadline: float, grace: float) -> Any:
        waiting = asyncio.wrap_future(future)
        waiting.add_done_callback(_retrieved)
        try:
            try:
                return await asyncio.wait_for(
                    asyncio.shield(waiting), max(0.0, deadline - time.monotonic())
                )
            except TimeoutError:
                if future.cancel():
                    raise AuditUnavailable(
                        "the audit store did not take the write in time; nothing was written"
                    ) from None
            try:
                return await asyncio.wait_for(asyncio.shield(waiting), grace)
            except TimeoutError:
                raise AuditUnavailable("the audit write did not finish in time") from None
        except asyncio.CancelledError:
            future.cancel()  # the request is gone: drop the write if it was not taken yet
            raise


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a result nobody awaited any more as seen (no 'exception never retrieved')."""
    if not future.cancelled():
        future.exception()


def _bound(engine: Engine, table: sa.Table, values: dict[str, Any]) -> tuple[Any, ...]:
    """``values`` as SQLAlchemy would bind them for the writer's raw cursor."""
    dialect = engine.dialect
    bound = []
    for name, value in values.items():
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        bound.append(value if process is None or value is None else process(value))
    return tuple(bound)


def _raw_insert(engine: Engine, table: sa.Table, values: dict[str, Any]) -> tuple[str, Any]:
    """An INSERT of ``values`` into ``table`` for the writer's raw cursor."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(values)
    marks = ", ".join([mark] * len(values))
    return f"INSERT INTO {table.name} ({names}) VALUES ({marks})", _bound(engine, table, values)
