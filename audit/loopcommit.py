"""Group commit driven by the event loop, for a SQLite audit store.

The loop writes SQLite itself, on its own thread: handing the write to a thread cost more than the
write (each hand-off takes the GIL back from the loop's requests, each wake-up of the loop waits
behind every callback ready before it; at 200 requests a second the median went from 5 to 35-60
ms). A transaction takes SQLite's write lock (``BEGIN IMMEDIATE``), reads the chain head,
hashes and inserts the rows, moves the head and commits: one fsync under ``synchronous=FULL``.

A request writes at once and goes on without yielding, unless the worker is loaded: its loop spent
at least ``LOADED`` of the last ``WINDOW`` seconds computing and other requests are in flight (the
caller counts them). Then it joins a pending batch, flushed by the last of those requests to reach
its write (or, if some never do, once the callbacks already ready have run): one transaction, one
read and update of the chain head and one fsync for all of them. Batching only under load on
purpose: a request waiting in a batch resumes behind every request that became ready meanwhile,
and at a light load that only added latency (a closed-loop client pacing 200 requests a second
fell into waves of requests answered together, with a median of 20-60 ms instead of 5).

When the lock is held (another worker process is committing, or the store is locked), the
transaction waits for it in place for at most ``LOCK_SPIN`` (about one commit of the other
process), then gives up and the batch is tried again after ``RETRY_SECONDS`` while the loop serves
other requests, which join it. A job whose deadline passes first fails with AuditUnavailable, nothing
written; the loop is never held much longer than one commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import Future
from typing import Any

from audit.jobs import AuditUnavailable, Job, fail
from audit.schema import GENESIS
from audit.statements import reason
from audit.writer import MAX_JOBS, Writer

#: how long a transaction waits in place for SQLite's lock (seconds): about one commit of another
#: worker process, so that a request meeting one goes on at once rather than behind the requests
#: its loop would serve meanwhile
LOCK_SPIN = 0.002
#: how long a flush that did not get the lock waits, serving other requests, before it tries again
RETRY_SECONDS = 0.005
#: a loop whose thread computed this share of the last ``WINDOW`` seconds is loaded: a worker
#: paced at 100 requests a second computes about a third of the time; a saturated one shares its
#: core with the other worker and the load generator, and got 0.6-0.9 of it
LOADED = 0.5
WINDOW = 0.2  # seconds

_Batch = list[tuple[Job, "asyncio.Future[None]"]]


class LoopCommit:
    """The pending batch of one event loop and its connection (see the module's docstring)."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: _Batch = []
        self._flush_at: asyncio.Handle | None = None
        self._connection: Any = None
        self._window = (time.monotonic(), time.thread_time())  # its start: wall and CPU time
        self._busy = False  # the loop was loaded in the last window
        self.flushes = 0  # batches flushed, for tests and benchmarks

    async def write(self, job: Job, in_flight: int = 1) -> bool:
        """Write ``job``, now or in a coming flush (``in_flight``: the requests in flight in this
        worker, this one included). True once written (AuditUnavailable if it failed); False if
        this store's batch belongs to another event loop (write it otherwise)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._pending:
                return False
            self._loop, self._flush_at = loop, None
            self._window = (time.monotonic(), time.thread_time())  # this thread's time from now
        waiter: asyncio.Future[None] = loop.create_future()
        self._pending.append((job, waiter))
        alone = in_flight - len(self._pending) <= 0 or not self._loaded()
        if alone and self._flush_at is None:
            # A light load, or every other request in flight already waits here: nobody else
            # will join, so this one flushes the batch (itself, usually) at once.
            self._flush()
        elif self._flush_at is None:
            self._schedule(busy=False)
        await waiter
        return True

    def _loaded(self) -> bool:
        """Whether the loop's thread computed for ``LOADED`` of the last window or more."""
        now = time.monotonic()
        started, computed = self._window
        if now - started >= WINDOW:
            cpu = time.thread_time()
            self._busy = (cpu - computed) / (now - started) >= LOADED
            self._window = (now, cpu)
        return self._busy

    def close(self) -> None:
        self._drop()

    def _flush(self) -> None:
        self._flush_at = None
        batch = self._live()
        if not batch:
            return
        self.flushes += 1
        untried = set(self._transaction([job for job, _ in batch]))
        for job, waiter in batch:
            if job in untried:
                self._pending.append((job, waiter))
            else:
                _settle(job, waiter)
        if self._pending:
            self._schedule(busy=bool(untried))

    def _schedule(self, busy: bool) -> None:
        assert self._loop is not None
        if busy:  # the lock is held elsewhere: let its holder commit first
            self._flush_at = self._loop.call_later(RETRY_SECONDS, self._flush)
        else:
            self._flush_at = self._loop.call_soon(self._flush)

    def _live(self) -> _Batch:
        """The next batch to write: the pending jobs still awaited and within their deadlines
        (the others are answered now), at most ``MAX_JOBS``."""
        now = time.monotonic()
        live: _Batch = []
        for job, waiter in self._pending:
            if waiter.done():
                continue  # its request is gone (cancelled): nothing is written for it
            if job.deadline <= now:
                waiter.set_exception(
                    AuditUnavailable("the audit store is locked; nothing was written")
                )
            else:
                live.append((job, waiter))
        batch, self._pending = live[:MAX_JOBS], live[MAX_JOBS:]
        return batch

    def _transaction(self, jobs: list[Job]) -> list[Job]:
        """Write ``jobs`` in one transaction: the jobs not tried because the lock is held; every
        other one is resolved (its future says written or failed)."""
        writer = self._writer
        try:
            cursor = self._connect().cursor()
            writer._begin_immediate(cursor, time.monotonic() + LOCK_SPIN)
        except Exception as exc:
            if writer._is_busy(exc):
                return jobs
            self._drop()
            _fail_all(jobs, exc)
            return []
        try:
            cursor.execute("SELECT seq, hash FROM chain_head WHERE id = 1")
            found = cursor.fetchone()
            jobs[0].head = (0, GENESIS) if found is None else (int(found[0]), str(found[1]))
            done = writer._rows(cursor, jobs)
            self._connection.commit()
        except Exception as exc:
            self._rollback()
            left = [job for job in jobs if not job.future.done()]
            if isinstance(exc, writer._row_errors) and len(left) > 1:
                # One job's row cannot be stored (a duplicate id): each alone, so only it fails.
                return [job for one in left for job in self._transaction([one])]
            if writer._is_busy(exc):
                return left
            if not isinstance(exc, writer._row_errors):
                self._drop()
            _fail_all(left, exc)
            return []
        writer.committed(done)
        return []

    # -- the connection ------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._connection is None:
            connection = self._writer.engine.raw_connection()
            connection.cursor().execute("PRAGMA busy_timeout = 0")  # the flush retries itself
            self._connection = connection
        return self._connection

    def _rollback(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.rollback()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()


def _fail_all(jobs: list[Job], exc: Exception) -> None:
    for job in jobs:
        fail(job, reason(exc))


def _settle(job: Job, waiter: asyncio.Future[None]) -> None:
    """Pass what the writer made of ``job`` on to the request awaiting ``waiter``."""
    if waiter.done():
        return
    future: Future[Any] = job.future
    if not future.done():
        waiter.set_exception(AuditUnavailable("the audit writer left the write unresolved"))
    elif (failure := future.exception()) is not None:
        waiter.set_exception(failure)
    else:
        waiter.set_result(None)
