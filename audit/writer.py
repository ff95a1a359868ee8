"""The audit store's one writer: a thread fed by a queue, committing in groups.

Every write of an ``AuditStore`` (chained rows, the readiness heartbeat, signed checkpoints) is a
job on its writer's queue, except an event loop's row writes on SQLite (``audit.loopcommit``, which
uses this writer's codecs). The writer takes every job waiting,
drops those whose deadline has passed (their caller has answered "nothing was written", and that
stays true), and writes the rest of the row jobs in ONE transaction: it locks the chain head (SQLite
``BEGIN IMMEDIATE``, which also orders several processes writing one file; PostgreSQL ``SELECT ...
FOR UPDATE`` on the head row), hashes each row onto the chain, inserts them, moves the head and
commits, then resolves each job. One commit (one fsync under SQLite's ``synchronous=FULL``) serves
every write that arrived meanwhile.

How long a transaction may wait for the lock is bounded by the earliest deadline in it (SQLite's
busy timeout, PostgreSQL's ``lock_timeout``, both set per transaction), and a statement by most of
the store's timeout (PostgreSQL's ``statement_timeout``), so a write in flight does not outlive its
caller's wait by much. Jobs that met a lock but still have time are tried again; failures are
reported to each job as AuditUnavailable, whose message never carries row data. A group that fails
on one row (a duplicate id) is written again job by job, so only the faulty job fails.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlalchemy.engine import Engine

from audit.chain import RowCodec, link
from audit.jobs import Job, fail
from audit.schema import CHAINED, GENESIS
from audit.statements import insert_sql, reason

MAX_JOBS = 256  # per transaction
MAX_ROWS = 5_000
MIN_LOCK_WAIT = 0.01  # seconds


class Writer:
    """The thread that writes one store (see the module's docstring)."""

    def __init__(self, engine: Engine, lock_wait: float) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.lock_wait = lock_wait  # the longest a transaction waits for the lock, seconds
        self.codecs = {table.name: RowCodec(table) for table in CHAINED}
        self._sql = {name: insert_sql(codec, engine) for name, codec in self.codecs.items()}
        self._head_sql = "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1"
        if engine.dialect.paramstyle != "qmark":
            self._head_sql = self._head_sql.replace("?", "%s")
        dialect = engine.dialect
        self._processors = {
            name: [
                None
                if column in codec.json_columns
                else codec.table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
                for column in codec.columns
            ]
            for name, codec in self.codecs.items()
        }
        self._named = dialect.paramstyle in ("named", "pyformat")
        dbapi = dialect.loaded_dbapi
        self._dbapi_error: type[Exception] = dbapi.Error
        self._row_errors = (dbapi.IntegrityError, dbapi.DataError, dbapi.ProgrammingError)
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self._connection: Any = None  # the pool's connection, held by the thread
        #: hash the rows and move the head; False only to measure what the chain costs, on a
        #: fresh store that nothing else writes (seq then comes from a counter in memory)
        self.chain = True
        self._unchained = itertools.count(1)
        self.transactions = 0  # committed, for tests and benchmarks
        self.rows_written = 0

    # -- the callers' side ----------------------------------------------------------------------

    def submit(self, job: Job) -> Future[Any]:
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job.future

    def stop(self, wait: float = 5.0) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            if threading.current_thread() is not thread:
                thread.join(wait)

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        retry: list[Job] = []
        stopping = False
        while not (stopping and not retry):
            batch, retry = retry, []
            if not batch:
                first = self._queue.get()
                if first is None:
                    break
                batch = [first]
            rows = sum(len(job.rows) for job in batch)
            while not stopping and len(batch) < MAX_JOBS and rows < MAX_ROWS:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                else:
                    batch.append(job)
                    rows += len(job.rows)
            try:
                retry = self._write(batch)
            except Exception as exc:  # a fault of the writer's own: never leave a caller waiting
                for job in batch:
                    fail(job, f"the audit writer failed: {type(exc).__name__}")
                retry = []
            if retry:
                time.sleep(0.002)  # the lock was busy: let its holder go on
        self._close()

    def _write(self, batch: list[Job]) -> list[Job]:
        """Write what ``batch`` holds; the jobs to try again (they met a lock, time is left)."""
        now = time.monotonic()
        live = []
        for job in batch:
            if not job.future.running() and not job.future.set_running_or_notify_cancel():
                continue  # its caller gave up before the writer took it
            if job.deadline <= now:
                fail(job, "the audit store did not take the write in time; nothing was written")
            else:
                live.append(job)
        grouped = [job for job in live if job.action is None and not job.alone]
        apart = [job for job in live if job.action is not None or job.alone]
        retry: list[Job] = []
        if grouped:
            retry += self._transaction(grouped, self._rows, lock_head=self.chain)
        for job in apart:
            if job.action is not None:
                retry += self._transaction([job], self._act, lock_head=job.lock_head)
            else:
                retry += self._transaction([job], self._rows, lock_head=self.chain)
        return retry

    def _transaction(
        self, jobs: list[Job], work: Callable[[Any, list[Job]], list[Job]], lock_head: bool
    ) -> list[Job]:
        """Run ``work`` in one transaction and resolve the jobs it wrote; the jobs to retry."""
        try:
            connection = self._connect()
            cursor = connection.cursor()
        except Exception as exc:
            self._discard()
            return self._failed(jobs, exc)
        try:
            head = self._begin(cursor, min(job.deadline for job in jobs), lock_head)
            for job in jobs:
                job.head = head
            done = work(cursor, jobs)
            connection.commit()
        except Exception as exc:
            with contextlib.suppress(Exception):
                connection.rollback()
            return self._failed(jobs, exc)
        finally:
            with contextlib.suppress(Exception):
                cursor.close()
        self.committed(done)
        return []

    def committed(self, done: list[Job]) -> None:
        """Count a committed transaction and resolve the jobs it wrote."""
        self.transactions += 1
        self.rows_written += sum(len(job.rows) for job in done)
        for job in done:
            if not job.future.done():
                job.future.set_result(job.result)

    def _failed(self, jobs: list[Job], exc: Exception) -> list[Job]:
        """After a failed transaction: the jobs to retry; each other one failed."""
        if self._is_busy(exc):
            now = time.monotonic()
            retry = [
                job for job in jobs if job.deadline - now > MIN_LOCK_WAIT and not job.future.done()
            ]
            for job in jobs:
                if job not in retry:
                    fail(job, "the audit store is locked; nothing was written")
            return retry
        if isinstance(exc, self._row_errors) and len(jobs) > 1:
            retry = [job for job in jobs if not job.future.done()]
            for job in retry:
                job.alone = True  # one of them is at fault: each in a transaction of its own
            return retry
        if not isinstance(exc, self._row_errors):
            self._discard()  # a fresh connection next time: it may be the connection's fault
        for job in jobs:
            fail(job, reason(exc))
        return []

    # -- inside the transaction ---------------------------------------------------------------

    def _begin(self, cursor: Any, deadline: float, lock_head: bool) -> tuple[int, str] | None:
        """Take the lock, waiting no longer than the earliest deadline; the head if asked."""
        wait = max(MIN_LOCK_WAIT, min(self.lock_wait, deadline - time.monotonic()))
        if self.sqlite:
            self._begin_immediate(cursor, time.monotonic() + wait)
            if not lock_head:
                return None
            cursor.execute("SELECT seq, hash FROM chain_head WHERE id = 1")
        else:
            if not lock_head:
                return None
            cursor.execute(  # one round trip: the wait for this transaction, and the lock
                f"SET LOCAL lock_timeout = {int(wait * 1000)}; "
                "SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE"
            )
            cursor.nextset()
        found = cursor.fetchone()
        return (0, GENESIS) if found is None else (int(found[0]), str(found[1]))

    def _begin_immediate(self, cursor: Any, until: float) -> None:
        """BEGIN IMMEDIATE (the write lock now, not at the first insert), trying again every
        half millisecond until ``until``. Not SQLite's busy timeout: its waits grow to 10, 25,
        50 and 100 ms, and with two worker processes taking turns at the lock (each commit an
        fsync in synchronous FULL) a request would often sleep tens of milliseconds for a lock
        that was free again after one."""
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except self._dbapi_error as exc:
                if not self._is_busy(exc) or time.monotonic() >= until:
                    raise
            time.sleep(0.0005)

    def _rows(self, cursor: Any, jobs: list[Job]) -> list[Job]:
        seq, prev = jobs[0].head or (0, GENESIS)
        parameters: dict[str, list[Any]] = {name: [] for name in self.codecs}
        written = []
        for job in jobs:
            mark = (seq, prev, {name: len(p) for name, p in parameters.items()})
            try:
                for table, row in job.rows:
                    codec = self.codecs[table]
                    values = codec.stored(row)
                    seq = seq + 1 if self.chain else next(self._unchained)
                    values["seq"] = seq
                    if "id" in values:
                        values["id"] = seq
                    if self.chain:
                        values["prev_hash"] = prev
                        values["row_hash"] = prev = link(prev, codec.canonical(values))
                    else:
                        values["prev_hash"] = values["row_hash"] = ""
                    parameters[table].append(self._parameters(table, values))
            except Exception as exc:  # this job's rows cannot be stored (types): only it fails
                seq, prev, lengths = mark
                for name, length in lengths.items():
                    del parameters[name][length:]
                fail(job, f"a row cannot be stored: {type(exc).__name__}")
                continue
            written.append(job)
        with self._pipeline(cursor):  # PostgreSQL: the inserts and the head in one round trip
            for table, params in parameters.items():
                if params:
                    cursor.executemany(self._sql[table], params)
            if self.chain and written:
                cursor.execute(self._head_sql, (seq, prev))
        return written

    def _pipeline(self, cursor: Any) -> Any:
        if self.sqlite:
            return contextlib.nullcontext()
        return cursor.connection.pipeline()

    def _act(self, cursor: Any, jobs: list[Job]) -> list[Job]:
        (job,) = jobs
        assert job.action is not None
        job.result = job.action(cursor, job.head)
        return [job]

    def _parameters(self, table: str, values: dict[str, Any]) -> Any:
        columns = self.codecs[table].columns
        out = [
            values[name] if process is None or values[name] is None else process(values[name])
            for name, process in zip(columns, self._processors[table], strict=True)
        ]
        return dict(zip(columns, out, strict=True)) if self._named else tuple(out)

    # -- the connection ------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._connection is None:
            connection = self.engine.raw_connection()
            if self.sqlite:
                # No waiting inside SQLite: _begin_immediate waits in short steps itself.
                cursor = connection.cursor()
                cursor.execute("PRAGMA busy_timeout = 0")
                cursor.close()
            else:
                # A write in flight gives up a little before its caller stops waiting.
                milliseconds = max(1, int(self.lock_wait * 1000))
                cursor = connection.cursor()
                cursor.execute(f"SET lock_timeout = {milliseconds}")
                cursor.execute(f"SET statement_timeout = {milliseconds}")
                cursor.close()
                connection.commit()
            self._connection = connection
        return self._connection

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def _is_busy(self, exc: Exception) -> bool:
        if self.sqlite:
            return getattr(exc, "sqlite_errorcode", None) in (5, 6) or "locked" in str(exc)
        # lock_timeout, statement_timeout, serialization failure, deadlock
        return getattr(exc, "sqlstate", None) in ("55P03", "57014", "40001", "40P01")
