"""The store's one writer: group commit, deadlines, a locked store, the event loop left free, one
chain from several processes, durable commits."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from audit.loopcommit import BUSY_SHARE, IDLE_SHARE, TIME_CONSTANT, LoopCommit, LoopLoad
from audit.store import AuditStore, AuditUnavailable
from audit.verify import verify_chain
from tests.audit.conftest import decision, feedback_row, outcome_row, scalar

pytestmark = [pytest.mark.code]


@pytest.fixture(autouse=True)
def idle_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each loop write synced at once, whatever pytest's own thread computes (``LoopLoad``);
    the tests of a busy loop pin it busy."""
    monkeypatch.setattr(LoopLoad, "fixed", False)


def busy_store(path: Path) -> tuple[AuditStore, LoopCommit]:
    """A SQLite store whose event-loop writes see their loop as busy (their syncs grouped)."""
    store = AuditStore(f"sqlite:///{path}", timeout=2.0)
    assert store._on_loop is not None
    store._on_loop.load.fixed = True
    return store, store._on_loop


@contextmanager
def sqlite_locked(path: Path) -> Iterator[None]:
    """Another connection holding the database's write lock (BEGIN EXCLUSIVE)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextmanager
def postgres_locked(url: str) -> Iterator[None]:
    """Another session holding the chain head's row lock, as a stuck writer would."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as other:
        other.execute("SELECT * FROM chain_head WHERE id = 1 FOR UPDATE")
        yield
        other.rollback()


@contextmanager
def locked(url: str) -> Iterator[None]:
    if url.startswith("sqlite"):
        with sqlite_locked(Path(url.removeprefix("sqlite:///"))):
            yield
    else:
        with postgres_locked(url):
            yield


def test_a_locked_store_refuses_within_the_timeout_and_writes_nothing(store_url: str) -> None:
    store = AuditStore(store_url, timeout=0.5)
    try:
        store.record([decision(0)])
        with locked(store_url):
            started = time.monotonic()
            with pytest.raises(AuditUnavailable) as raised:
                store.record([decision(1)])
            waited = time.monotonic() - started
        assert 0.3 < waited < 1.2, waited
        assert "decision" not in str(raised.value).lower() or "B-1" not in str(raised.value)
        assert store.get(decision(1)["decision_id"]) is None  # nothing was written
        store.record([decision(2)])  # the lock is gone: writes go on, the chain holds
        result = verify_chain(store.engine)
        assert result.intact and result.total == 2
    finally:
        store.close()


def test_the_event_loop_runs_on_while_a_write_waits_for_a_locked_store(store_url: str) -> None:
    store = AuditStore(store_url, timeout=1.0)

    async def scenario() -> tuple[float, float]:
        gaps = []
        stop = asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                gaps.append(time.monotonic() - last)
                last = time.monotonic()

        ticking = asyncio.create_task(ticker())
        started = time.monotonic()
        with pytest.raises(AuditUnavailable):
            await store.arecord([decision(1)])
        waited = time.monotonic() - started
        stop.set()
        await ticking
        return waited, max(gaps)

    try:
        with locked(store_url):
            waited, worst_gap = asyncio.run(scenario())
        assert 0.6 < waited < 2.5, waited
        # Never held for the wait (a blocking write would hold it about a second); a loaded
        # machine delays a 10 ms sleep by a few hundred ms at worst.
        assert worst_gap < 0.5, worst_gap
        asyncio.run(store.arecord([decision(2)]))
        asyncio.run(store.arecord_feedback([feedback_row(2)]))
        asyncio.run(store.arecord_outcome(outcome_row(2)))
        assert verify_chain(store.engine).total == 3
    finally:
        store.close()


def test_the_event_loop_writes_sqlite_itself_each_request_at_once(tmp_path: Path) -> None:
    """The loop writes SQLite on its own thread (no writer thread, no hand-off), each request in
    its own transaction and sync. While the lock is held elsewhere the writes wait without
    holding the loop, and land together (one transaction, one sync) once it is free."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = AuditStore(url, timeout=2.0)
    commit = store._on_loop
    assert commit is not None
    try:
        asyncio.run(store.arecord([decision(1)]))
        assert store._writer._thread is None  # written here: the thread was never started
        assert commit._sync is not None

        async def at_once() -> None:
            await asyncio.gather(*(store.arecord([decision(n)]) for n in range(2, 9)))

        before, syncs = store._writer.transactions, commit._sync.syncs
        asyncio.run(at_once())
        assert store._writer.transactions - before == 7
        assert commit._sync.syncs - syncs == 7

        async def while_locked() -> None:
            other = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            writing = asyncio.gather(*(store.arecord([decision(n)]) for n in range(9, 14)))
            await asyncio.sleep(0.2)
            assert not writing.done()  # waiting for the lock, the loop free meanwhile
            other.execute("ROLLBACK")
            other.close()
            await writing

        before, syncs = store._writer.transactions, commit._sync.syncs
        asyncio.run(while_locked())
        assert store._writer.transactions - before == 1
        assert commit._sync.syncs - syncs == 1
        assert store._writer._thread is None
        result = verify_chain(store.engine)
        assert result.intact and result.total == 13
    finally:
        store.close()


def test_a_busy_loop_syncs_the_commits_ready_together_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the loop is busy, the requests ready together each commit on their own, then one
    sync (after the last commit) answers them all; none is answered before it."""
    path = tmp_path / "audit.db"
    store, _ = busy_store(path)
    committed_at_sync: list[int] = []
    real_fdatasync = os.fdatasync

    def fdatasync(descriptor: int) -> None:
        rows = sqlite3.connect(path).execute("SELECT count(*) FROM decisions").fetchone()[0]
        committed_at_sync.append(rows)
        real_fdatasync(descriptor)

    async def together() -> list[float]:
        answered: list[float] = []

        async def one(n: int) -> None:
            await store.arecord([decision(n)])
            answered.append(len(committed_at_sync))

        await asyncio.gather(*(one(n) for n in range(1, 8)))
        return answered

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    try:
        answered = asyncio.run(together())
        assert store._writer.transactions == 7  # a transaction each
        assert committed_at_sync == [7]  # one sync, after the seventh commit
        assert answered == [1] * 7  # every answer after that sync
        assert verify_chain(store.engine).intact
    finally:
        store.close()


def test_a_failed_group_sync_refuses_every_write_of_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store, _ = busy_store(tmp_path / "audit.db")

    calls = []

    def broken(descriptor: int) -> None:
        calls.append(descriptor)
        raise OSError(errno.EIO, "Input/output error")

    async def together() -> list[BaseException | None]:
        return await asyncio.gather(
            *(store.arecord([decision(n)]) for n in range(1, 4)), return_exceptions=True
        )

    monkeypatch.setattr(os, "fdatasync", broken)
    try:
        results = asyncio.run(together())
        assert all(isinstance(r, AuditUnavailable) and "failed to sync" in str(r) for r in results)
        assert scalar(url, "SELECT count(*) FROM decisions") == 3  # committed, never confirmed
        assert len(calls) == 1  # one sync for the three
        with pytest.raises(AuditUnavailable, match="until the service is restarted"):
            asyncio.run(store.arecord([decision(4)]))
    finally:
        store.close()


@pytest.mark.parametrize("leaving", ["store closed", "loop stopped"])
def test_a_group_waiting_for_its_sync_is_synced_before_its_loop_or_store_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaving: str
) -> None:
    """A group whose sync has not run yet is synced (once) and answered when the store closes,
    or before a write from another loop, once its own loop has stopped: nothing hangs."""
    store, commit = busy_store(tmp_path / "audit.db")
    syncs: list[int] = []
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (syncs.append(fd), real_fdatasync(fd)))
    loop = asyncio.new_event_loop()
    try:
        waiting = loop.create_task(store.arecord([decision(1)]))
        loop.call_soon(loop.stop)  # the write commits, its group's sync is left for later
        loop.run_forever()
        assert commit._group is not None and not waiting.done() and syncs == []
        if leaving == "store closed":
            store.close()
        else:
            asyncio.run(store.arecord([decision(2)]))
        assert len(syncs) == (1 if leaving == "store closed" else 2)
        loop.run_until_complete(waiting)  # answered, written
        assert waiting.exception() is None
    finally:
        loop.close()
        store.close()


def test_the_loop_counts_as_busy_from_its_share_of_computing_until_it_falls_well_below() -> None:
    """Busy from ``BUSY_SHARE`` of its time (a moving average), idle again below ``IDLE_SHARE``
    (a hysteresis, so a loop near one threshold does not switch at every request), and idle again
    soon after the load stops."""
    now, cpu = [0.0], [0.0]
    load = LoopLoad(clock=lambda: now[0], cpu=lambda: cpu[0])
    load.fixed = None  # measured, not pinned

    def run(share: float, seconds: float, step: float = 0.01) -> list[bool]:
        answers = []
        for _ in range(round(seconds / step)):
            now[0] += step
            cpu[0] += share * step
            answers.append(load.busy())
        return answers

    assert not any(run(0.15, 2.0))  # paced: 200 requests a second on two workers
    assert not any(run(BUSY_SHARE - 0.05, 1.0))
    assert run(0.9, 1.0)[-1]  # saturated
    assert all(run((BUSY_SHARE + IDLE_SHARE) / 2, 1.0))  # between the two: still busy
    assert not run(IDLE_SHARE - 0.05, 1.0)[-1]
    run(0.9, 1.0)
    idle_again = run(0.15, 1.0).index(False) * 0.01
    assert 0.01 < idle_again <= 3 * TIME_CONSTANT


def test_a_loop_write_is_synced_after_its_commit_with_the_lock_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What synchronous=FULL does (the WAL synced before the answer, and its folder once), but
    outside the write lock: while this worker waits for its disk, another may commit."""
    path = tmp_path / "audit.db"
    store = AuditStore(f"sqlite:///{path}", timeout=2.0)
    seen: list[tuple[object, ...]] = []
    real_fdatasync, real_fsync = os.fdatasync, os.fsync

    def fdatasync(descriptor: int) -> None:
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        other.execute("BEGIN IMMEDIATE")  # the lock is free: the commit is over
        other.execute("ROLLBACK")
        other.close()
        committed = sqlite3.connect(path).execute("SELECT count(*) FROM decisions").fetchone()
        seen.append(("fdatasync", os.fstat(descriptor).st_ino, committed[0]))
        real_fdatasync(descriptor)

    def fsync(descriptor: int) -> None:
        seen.append(("fsync", os.fstat(descriptor).st_ino))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "fsync", fsync)
    try:
        asyncio.run(store.arecord([decision(1)]))
        asyncio.run(store.arecord([decision(2)]))
        wal, folder = Path(f"{path}-wal").stat().st_ino, tmp_path.stat().st_ino
        assert seen == [
            ("fdatasync", wal, 1), ("fsync", folder), ("fdatasync", wal, 2)
        ]  # fmt: skip
        assert store._on_loop is not None
        connection = store._on_loop._connection
        assert connection.cursor().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        with store.engine.connect() as other:  # the store's other connections: FULL
            assert other.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    finally:
        store.close()


def test_a_store_whose_disk_fails_a_sync_is_refused_until_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed fsync is not tried again (the kernel may have dropped the pages it could not
    write): that write and every later one are refused, and readiness says why."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = AuditStore(url, timeout=2.0)
    calls = []

    def broken(descriptor: int) -> None:
        calls.append(descriptor)
        raise OSError(errno.EIO, "Input/output error")

    try:
        asyncio.run(store.arecord([decision(1, booking_id="CANARY-BOOKING")]))
        monkeypatch.setattr(os, "fdatasync", broken)
        with caplog.at_level(logging.ERROR, logger="kykytutka.audit"):
            with pytest.raises(AuditUnavailable, match="failed to sync"):
                asyncio.run(store.arecord([decision(2, booking_id="CANARY-BOOKING")]))
            with pytest.raises(AuditUnavailable, match="until the service is restarted"):
                asyncio.run(store.arecord([decision(3)]))
        assert len(calls) == 1  # never tried again
        assert scalar(url, "SELECT count(*) FROM decisions") == 2  # 3 never written
        problem = store.check_writable()
        assert problem is not None and "failed to sync" in problem
        assert [json.loads(r.getMessage()) for r in caplog.records] == [
            {"event": "audit_store_sync_failed", "error": "OSError", "errno": errno.EIO}
        ]
        assert "CANARY" not in caplog.text
    finally:
        store.close()


def test_the_wal_synced_is_the_one_sqlite_writes_through_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite names the files (links resolved): a store reached through a linked folder syncs the
    real WAL and folder, not a path beside the link."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    store = AuditStore(f"sqlite:///{tmp_path / 'link' / 'audit.db'}", timeout=2.0)
    synced: list[int] = []
    real_fdatasync, real_fsync = os.fdatasync, os.fsync

    def fdatasync(descriptor: int) -> None:
        synced.append(os.fstat(descriptor).st_ino)
        real_fdatasync(descriptor)

    def fsync(descriptor: int) -> None:
        synced.append(os.fstat(descriptor).st_ino)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "fsync", fsync)
    try:
        asyncio.run(store.arecord([decision(1)]))
        wal = (tmp_path / "real" / "audit.db-wal").stat().st_ino
        assert synced == [wal, (tmp_path / "real").stat().st_ino]
    finally:
        store.close()


def test_any_failure_of_a_sync_refuses_the_store_but_a_wal_not_opened_only_its_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = AuditStore(url, timeout=2.0)
    real_open = os.open
    refusals = [OSError(errno.EMFILE, "Too many open files")]

    def open_once_refused(path: Any, flags: int, *args: Any) -> int:
        if str(path).endswith("-wal") and refusals:
            raise refusals.pop()
        return real_open(path, flags, *args)

    def unexpected(descriptor: int) -> None:
        raise ValueError("not an OSError")

    try:
        asyncio.run(store.arecord([decision(1)]))
        assert store._on_loop is not None and store._on_loop._sync is not None
        store._on_loop._sync.close()  # the next sync opens the WAL again: refused once
        monkeypatch.setattr(os, "open", open_once_refused)
        with pytest.raises(AuditUnavailable, match="could not be opened"):
            asyncio.run(store.arecord([decision(2)]))
        asyncio.run(store.arecord([decision(3)]))  # a passing trouble: written and synced
        assert store.check_writable() is None
        monkeypatch.setattr(os, "fdatasync", unexpected)
        with pytest.raises(AuditUnavailable, match=r"failed to sync a write \(ValueError\)"):
            asyncio.run(store.arecord([decision(4)]))
        with pytest.raises(AuditUnavailable, match="until the service is restarted"):
            asyncio.run(store.arecord([decision(5)]))
    finally:
        store.close()


def test_writes_waiting_for_the_lock_are_not_written_once_the_store_failed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.db"
    url = f"sqlite:///{path}"
    store = AuditStore(url, timeout=2.0)
    try:
        asyncio.run(store.arecord([decision(1)]))
        commit = store._on_loop
        assert commit is not None and commit._sync is not None

        async def waiting() -> list[BaseException | None]:
            with sqlite_locked(path):
                writing = asyncio.gather(
                    *(store.arecord([decision(n)]) for n in range(2, 5)), return_exceptions=True
                )
                await asyncio.sleep(0.05)
                assert commit._sync is not None
                commit._sync.failure = "the audit store's disk failed to sync a write (EIO)"
            return await writing

        outcomes = asyncio.run(waiting())
        assert all(isinstance(o, AuditUnavailable) for o in outcomes), outcomes
        assert scalar(url, "SELECT count(*) FROM decisions") == 1
    finally:
        store.close()


def test_a_store_not_asked_to_be_durable_is_not_synced(tmp_path: Path) -> None:
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}", synchronous="NORMAL")
    try:
        asyncio.run(store.arecord([decision(1)]))
        assert store._on_loop is not None and store._on_loop._sync is None
        assert verify_chain(store.engine).total == 1
    finally:
        store.close()


def test_one_bad_write_in_a_loop_group_fails_alone(tmp_path: Path) -> None:
    """Writes that met a held lock wait together and are tried together once it is free; one
    that cannot be stored fails alone."""
    path = tmp_path / "audit.db"
    store = AuditStore(f"sqlite:///{path}", timeout=2.0)
    try:
        asyncio.run(store.arecord([decision(0, booking_id="CANARY-BOOKING")]))

        async def together() -> list[BaseException | None]:
            # number 3 repeats the first decision's id: a primary key violation
            with sqlite_locked(path):
                writes = asyncio.gather(
                    *(store.arecord([decision(0 if n == 3 else n)]) for n in range(1, 7)),
                    return_exceptions=True,
                )
                await asyncio.sleep(0.1)
            return await writes

        outcomes = asyncio.run(together())
        assert [type(o).__name__ for o in outcomes] == [
            "NoneType", "NoneType", "AuditUnavailable", "NoneType", "NoneType", "NoneType"
        ]  # fmt: skip
        assert "CANARY" not in str(outcomes[2])
        result = verify_chain(store.engine)
        assert result.intact and result.total == 6
    finally:
        store.close()


def test_writes_that_arrive_together_share_one_commit(store_url: str) -> None:
    """While the lock is held elsewhere, 40 writers queue; when it is let go, the writer takes
    them all into one or two transactions."""
    store = AuditStore(store_url, timeout=5.0)
    try:
        store.record([decision(0)])
        before = store._writer.transactions
        threads = [
            threading.Thread(target=store.record, args=([decision(n)],)) for n in range(1, 41)
        ]
        with locked(store_url):
            for thread in threads:
                thread.start()
            time.sleep(0.3)
        for thread in threads:
            thread.join()
        assert store._writer.transactions - before <= 3
        result = verify_chain(store.engine)
        assert result.intact and result.total == 41
    finally:
        store.close()


def test_one_bad_write_in_a_group_fails_alone(store_url: str) -> None:
    store = AuditStore(store_url, timeout=5.0)
    try:
        store.record([decision(0, booking_id="CANARY-BOOKING")])
        errors: dict[int, Exception] = {}

        def write(number: int) -> None:
            try:
                # number 5 repeats the first decision's id: a primary key violation
                store.record([decision(0 if number == 5 else number)])
            except AuditUnavailable as exc:
                errors[number] = exc

        threads = [threading.Thread(target=write, args=(n,)) for n in range(1, 11)]
        with locked(store_url):
            for thread in threads:
                thread.start()
            time.sleep(0.3)
        for thread in threads:
            thread.join()
        assert list(errors) == [5]
        message = str(errors[5])
        assert "CANARY" not in message and decision(0)["decision_id"] not in message
        result = verify_chain(store.engine)
        assert result.intact and result.total == 10
    finally:
        store.close()


def test_a_write_past_its_deadline_is_never_written(store_url: str) -> None:
    """The caller was told "nothing was written" (a 503): the writer must not write it later."""
    store = AuditStore(store_url, timeout=0.3)
    try:
        with locked(store_url):
            with pytest.raises(AuditUnavailable):
                store.record([decision(1)])
            with pytest.raises(AuditUnavailable):
                store.record([decision(2)], timeout=0.0)
        store.record([decision(3)])  # after this, the writer has dealt with everything before
        assert store.get(decision(1)["decision_id"]) is None
        assert store.get(decision(2)["decision_id"]) is None
        assert verify_chain(store.engine).total == 1
    finally:
        store.close()


def test_the_readiness_heartbeat_writes_outside_the_chain(store_url: str) -> None:
    store = AuditStore(store_url, timeout=0.5)
    try:
        assert store.writable()
        assert store.head() == (0, "0" * 64)
        with locked(store_url):
            problem = store.check_writable()
        assert problem is not None and "nothing was written" in problem
        assert store.writable()
    finally:
        store.close()


def test_sqlite_commits_are_durable_and_its_files_owner_only(tmp_path: Path) -> None:
    import os
    import stat

    path = tmp_path / "state" / "audit.db"
    previous = os.umask(0o022)
    try:
        store = AuditStore(f"sqlite:///{path}")
        store.record([decision(1)])
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        os.umask(previous)
    for name in ("audit.db", "audit.db-wal", "audit.db-shm"):
        mode = stat.S_IMODE((path.parent / name).stat().st_mode)
        assert mode == 0o600, f"{name}: {mode:o}"
    store.close()


def test_several_processes_write_one_chain(store_url: str) -> None:
    """Worker processes writing one store at once: one chain, no seq twice, nothing lost."""
    AuditStore(store_url).close()
    script = (
        "import sys\n"
        "from audit.store import AuditStore\n"
        "from tests.audit.conftest import decision, outcome_row\n"
        "store = AuditStore(sys.argv[1], timeout=10)\n"
        "first = int(sys.argv[2])\n"
        "for n in range(first, first + 60):\n"
        "    store.record([decision(n)])\n"
        "    store.record_outcome(outcome_row(n))\n"
        "store.close()\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, store_url, str(first)])
        for first in (0, 1_000, 2_000)
    ]
    assert [worker.wait(120) for worker in workers] == [0, 0, 0]
    store = AuditStore(store_url)
    try:
        result = verify_chain(store.engine)
        assert result.intact, result.problem
        assert result.rows == {"decisions": 180, "feedback": 0, "outcomes": 180}
        assert scalar(store_url, "SELECT max(seq) FROM outcomes") <= 360
    finally:
        store.close()


OLD_SCHEMA = (  # the tables as the release before the chain made them
    "CREATE TABLE decisions (decision_id VARCHAR(36) PRIMARY KEY, decided_at DATETIME NOT NULL, "
    "client_ref_hash VARCHAR(64) NOT NULL, booking_id VARCHAR(64) NOT NULL, model_name "
    "VARCHAR(64) NOT NULL, model_version VARCHAR(32) NOT NULL, contract_version VARCHAR(16) NOT "
    "NULL, alert_probability FLOAT NOT NULL, alert BOOLEAN NOT NULL, segment_id VARCHAR(16) NOT "
    "NULL, inputs JSON NOT NULL, output JSON NOT NULL)",
    "CREATE TABLE feedback (id INTEGER PRIMARY KEY, decision_id VARCHAR(36) NOT NULL, outcome "
    "VARCHAR(16) NOT NULL, override_reason VARCHAR(64), outcome_at DATETIME, received_at DATETIME "
    "NOT NULL)",
    "CREATE TABLE outcomes (id INTEGER PRIMARY KEY, decision_id VARCHAR(36) NOT NULL, "
    "needs_support BOOLEAN NOT NULL, support_level VARCHAR(16), confirmed_at DATETIME NOT NULL, "
    "received_at DATETIME NOT NULL, recorded_by VARCHAR(64) NOT NULL)",
    "INSERT INTO decisions VALUES ('00000000-0000-0000-0000-000000000001', "
    "'2026-11-02 08:00:00.000000', 'aa', 'B-1', 'kykytutka', '3', '1.2.0', 0.5, 1, 'S1', "
    "'{\"age\": 40}', '{}')",
    "INSERT INTO feedback VALUES (1, '00000000-0000-0000-0000-000000000001', 'accepted', NULL, "
    "NULL, '2026-11-02 08:01:00.000000')",
)


def test_an_old_store_is_refused_clearly_and_still_read(tmp_path: Path) -> None:
    """A store of the release before the chain (there is no migration): opening it to write is
    a clear error naming what it lacks; `audit verify` says so (exit 2); monitoring still reads
    it."""
    from datetime import UTC, datetime

    from typer.testing import CliRunner

    from audit.store import AuditSchemaError
    from audit.windows import read_feedback
    from kykytutka.cli import app

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        for statement in OLD_SCHEMA:
            old.execute(statement)
    url = f"sqlite:///{path}"
    with pytest.raises(AuditSchemaError) as raised:
        AuditStore(url)
    message = str(raised.value)
    assert "made by an older release" in message and "there is no migration" in message
    assert "decisions lacks made_by, seq, prev_hash, row_hash" in message
    assert "feedback lacks recorded_by, seq, prev_hash, row_hash" in message
    with sqlite3.connect(path) as old:  # refused before anything was created in it
        tables = {name for (name,) in old.execute("SELECT name FROM sqlite_master")}
    assert "chain_head" not in tables and "heartbeat" not in tables
    result = CliRunner().invoke(app, ["audit", "verify", "--url", url])
    assert result.exit_code == 2 and "has no hash chain" in result.output
    frame = read_feedback(url, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert list(frame["outcome"]) == ["accepted"]
