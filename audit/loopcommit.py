"""Writing a SQLite audit store from the event loop, durably.

The loop writes SQLite itself, on its own thread: handing the write to a thread cost more than the
write (each hand-off takes the GIL back from the loop's requests, each wake-up of the loop waits
behind every callback ready before it; at 200 requests a second the median went from 5 to 35-60
ms). A request's transaction takes SQLite's write lock (``BEGIN IMMEDIATE``), reads the chain
head, hashes and inserts the rows, moves the head and commits; the request is answered only once
its rows are on the disk.

On the disk, as ``synchronous=FULL`` would put them, but cheaper for the other worker processes.
FULL syncs the WAL inside the commit, with the write lock held, so another worker's request waits
for this one's disk too. Here the loop's connection commits with ``synchronous=NORMAL`` and then,
the lock released, syncs the WAL itself (``fdatasync``, as SQLite does, and the WAL's folder the
first time a new WAL file is synced, as SQLite does for a new journal). An fsync that fails is not
tried again (the kernel may have dropped the pages it could not write, and a later fsync would not
say so): the store is then refused until the service is restarted. The writes whose sync failed
were committed, so they may be in the store although their requests were refused, as after a
crash before the answer. A durable store that is not a file (``:memory:``) has nothing to sync.

When to sync (``LoopLoad``), as PostgreSQL's ``commit_delay`` waits only while ``commit_siblings``
other transactions run: while the loop is mostly idle, each commit is synced at once, so a request
never waits for another. A request that yielded for a shared sync resumed behind the requests that
had become ready meanwhile, and wrk's paced clients (200 requests a second) then fell into waves
answered together: the median went from 4 to as much as 69 ms. Once the loop has computed at least
``BUSY_SHARE`` of its time lately (saturated: requests are waiting anyway), a commit's
sync waits until the callbacks already ready on the loop have run (other requests among them
commit meanwhile), and one sync serves them all; below ``IDLE_SHARE`` it syncs at once again.
Measured in paired windows against the code before issue 12: the saturated throughput went from
0.69-0.80 to 0.92 of it, the paced p99 stayed within the windows' noise (README, Speed).

When the lock is held (another worker process is committing, or the store is locked), the
transaction waits for it in place for at most ``LOCK_SPIN`` (about one commit of the other
process), then gives up and the pending writes are tried again after ``RETRY_SECONDS`` while the
loop serves other requests, which join them: one transaction and one sync for all of them. A job
whose deadline passes first fails with AuditUnavailable, nothing written; the loop is never held
much longer than one commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from audit.jobs import AuditUnavailable, Job, fail
from audit.schema import GENESIS
from audit.statements import reason
from audit.writer import MAX_JOBS, Writer

log = logging.getLogger("kykytutka.audit")

#: how long a transaction waits in place for SQLite's lock (seconds): about one commit of another
#: worker process, so that a request meeting one goes on at once rather than behind the requests
#: its loop would serve meanwhile
LOCK_SPIN = 0.002
#: how long a flush that did not get the lock waits, serving other requests, before it tries again
RETRY_SECONDS = 0.005
#: the share of its time the loop's thread computed (``LoopLoad``) from which its commits are synced
#: in groups, and below which each is synced at once again (paced 200 requests a second: ~0.15)
BUSY_SHARE = 0.6
IDLE_SHARE = 0.35
TIME_CONSTANT = 0.05  # seconds: a loop left idle is answered at once again within about 0.1 s

_Batch = list[tuple[Job, "asyncio.Future[None]"]]


class LoopCommit:
    """The pending writes of one event loop and its connection (see the module's docstring).
    ``durable``: sync each commit to the disk before it is answered."""

    def __init__(self, writer: Writer, durable: bool = True) -> None:
        self._writer = writer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: _Batch = []
        self._retry: asyncio.TimerHandle | None = None
        self._connection: Any = None
        self._durable = durable
        self._sync: WalSync | None = None  # made with the connection (a file in WAL mode)
        self._unsynced: _Batch = []  # committed, waiting for the group's sync
        self._group: asyncio.Handle | None = None  # that sync, scheduled on the loop
        self.load = LoopLoad()
        self.flushes = 0  # transactions run, for tests and benchmarks

    @property
    def failure(self) -> str | None:
        """Why this store is no longer written (its disk failed a sync), or None."""
        return None if self._sync is None else self._sync.failure

    async def write(self, job: Job) -> bool:
        """Write ``job`` now (or with the writes it waits behind, while the lock is held). True
        once written and synced (AuditUnavailable if it failed); False if this store's writes
        belong to another event loop (write it otherwise)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._pending or (self._group is not None and self._loop_running()):
                return False
            self._sync_waiting()  # the last loop stopped before its group's sync ran
            self._loop, self._retry = loop, None
        if self.failure is not None:
            raise AuditUnavailable(self.failure)
        waiter: asyncio.Future[None] = loop.create_future()
        self._pending.append((job, waiter))
        if self._retry is None:
            self._flush()
        await waiter
        return True

    def close(self) -> None:
        self._drop()
        if self._sync is not None:
            self._sync.close()

    def _flush(self) -> None:
        self._retry = None
        batch = self._live()
        if not batch:
            return
        self.flushes += 1
        if self.failure is not None:  # nothing more is written, not even what waited
            for _, waiter in batch + self._pending:
                if not waiter.done():
                    waiter.set_exception(AuditUnavailable(self.failure))
            self._pending = []
            return
        untried = set(self._transaction([job for job, _ in batch]))
        written = {
            job
            for job, _ in batch
            if job not in untried and job.future.done() and job.future.exception() is None
        }
        for job, waiter in batch:
            if job in untried:
                self._pending.append((job, waiter))
            elif job in written and self._sync is not None:
                self._unsynced.append((job, waiter))  # answered once on the disk
            else:
                _settle(job, waiter)
        if self._unsynced and self._group is None:
            assert self._loop is not None
            if self.load.busy():  # synced once the requests ready now have committed too
                self._group = self._loop.call_soon(self._sync_group)
            else:
                self._sync_group()
        if self._pending:
            assert self._loop is not None
            # the lock is held elsewhere: let its holder commit first
            self._retry = self._loop.call_later(RETRY_SECONDS, self._flush)

    def _loop_running(self) -> bool:
        return self._loop is not None and self._loop.is_running()

    def _sync_waiting(self) -> None:
        """Sync the group waiting for its turn now: before its loop is left, and before the
        connection (and with it the WAL's descriptor) is dropped."""
        if self._group is not None:
            self._group.cancel()
            self._sync_group()

    def _sync_group(self) -> None:
        """Sync the WAL once for every commit waiting, then answer them (refused if it failed)."""
        self._group = None
        batch, self._unsynced = self._unsynced, []
        assert self._sync is not None
        unsynced = self._sync.sync()
        for job, waiter in batch:
            with contextlib.suppress(RuntimeError):  # call_soon of a waiter's loop already closed
                if unsynced is None:
                    _settle(job, waiter)
                elif not waiter.done():
                    waiter.set_exception(AuditUnavailable(unsynced))

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
            cursor = connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 0")  # the flush retries itself
            if self._durable:
                cursor.execute("PRAGMA journal_mode")
                mode = cursor.fetchone()
                wal = mode is not None and str(mode[0]).lower() == "wal"
                cursor.execute("PRAGMA database_list")
                file = next((str(row[2]) for row in cursor.fetchall() if row[1] == "main"), "")
                if wal and file:  # else SQLite's own FULL syncs it (nothing to sync in memory)
                    if self._sync is None:
                        self._sync = WalSync(file)
                    else:  # none of ours was open: the WAL may be a new file, opened anew
                        self._sync.close()
                    cursor.execute("PRAGMA synchronous = NORMAL")  # synced after the commit
            self._connection = connection
        return self._connection

    def _rollback(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.rollback()

    def _drop(self) -> None:
        self._sync_waiting()  # with the descriptor its writes were made through
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()


class LoopLoad:
    """Whether the loop's thread is busy: the share of the time it computed, a moving average
    (``time.thread_time`` at each question, weighted over about ``TIME_CONSTANT`` seconds), from
    ``BUSY_SHARE`` until it falls below ``IDLE_SHARE``."""

    fixed: bool | None = None  # pins busy()'s answer (tests)

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.thread_time,
    ) -> None:
        self._clock, self._cpu = clock, cpu
        self._last = (clock(), cpu())
        self.share = 0.0
        self._busy = False

    def busy(self) -> bool:
        if self.fixed is not None:
            return self.fixed
        now, cpu = self._clock(), self._cpu()
        elapsed = now - self._last[0]
        if elapsed > 0:
            weight = 1.0 - math.exp(-elapsed / TIME_CONSTANT)
            self.share += weight * ((cpu - self._last[1]) / elapsed - self.share)
            self._last = (now, cpu)
        self._busy = self.share >= (IDLE_SHARE if self._busy else BUSY_SHARE)
        return self._busy


class WalSync:
    """What ``synchronous=FULL`` does after a commit in WAL mode, outside the write lock. The WAL
    is named by SQLite itself (``PRAGMA database_list``: an absolute name, links resolved) and kept
    open: Linux reports a failed write-back to the descriptors open when it failed, so a descriptor
    opened for each sync could miss an error that another process's sync was told."""

    def __init__(self, database: str) -> None:
        self._wal = Path(f"{database}-wal")
        self._folder = self._wal.parent
        self._descriptor: int | None = None
        self._inode: int | None = None
        self._new_file = False  # its entry in the folder not yet synced
        self.failure: str | None = None
        self.syncs = 0  # for tests and benchmarks

    def sync(self) -> str | None:
        """Sync the WAL: None once done, else why not. A failed sync sets ``failure`` for good (and
        is logged once); a WAL that cannot be opened fails only the writes of this sync."""
        if self.failure is not None:
            return self.failure
        self.syncs += 1
        try:
            descriptor = self._open()
        except OSError as exc:
            log.error(json.dumps({"event": "audit_wal_not_opened", "errno": exc.errno}))
            return (
                f"the audit store's log could not be opened to sync the write "
                f"({exc.strerror or 'error'}); the decision may have been recorded"
            )
        try:
            _fdatasync(descriptor)
            if self._new_file:  # a new file: its entry in the folder too, as SQLite does
                folder = os.open(self._folder, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
                self._new_file = False
        except Exception as exc:  # whatever it was, the write may not be on the disk
            self.failure = (
                f"the audit store's disk failed to sync a write ({_why(exc)}); nothing more is "
                "written until the service is restarted"
            )
            log.error(
                json.dumps(
                    {
                        "event": "audit_store_sync_failed",
                        "error": type(exc).__name__,
                        "errno": getattr(exc, "errno", None),
                    }
                )
            )
            return self.failure
        return None

    def close(self) -> None:
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                os.close(self._descriptor)
            self._descriptor = None

    def _open(self) -> int:
        """The WAL's descriptor, opened at the first sync after ``close`` (the loop's connection
        keeps the WAL from being replaced while it is open, so no sync needs to look again)."""
        if self._descriptor is None:
            descriptor = os.open(self._wal, os.O_RDONLY | os.O_CLOEXEC)
            inode = os.fstat(descriptor).st_ino
            self._new_file = self._new_file or inode != self._inode
            self._descriptor, self._inode = descriptor, inode
        return self._descriptor


def _fdatasync(descriptor: int) -> None:
    """fdatasync where the system has it (Linux: the data, not the times), else fsync."""
    getattr(os, "fdatasync", os.fsync)(descriptor)


def _why(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


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
