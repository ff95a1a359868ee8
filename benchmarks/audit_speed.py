"""Benchmark: what the tamper-evident, durable audit store costs per write.

1. The chain's own work per decision row, in process: the canonical text and SHA-256 link.
2. One write at a time (one caller, as a quiet service): the median and p99 of ``record([row])``
   on SQLite with synchronous NORMAL and FULL, and on PostgreSQL, each without the chain (the
   writer's ``chain = False``: no hash, no head read or update) and with it. Beside them, the
   write as it was before this work: a prepared INSERT on a pooled connection, SQLite NORMAL.
3. Under concurrency: 16 threads writing one decision at a time; writes a second, and how many
   writes each commit carried (group commit amortising the fsync).
4. ``verify``: rows a second walked.

A realistic decision row (inputs and output with contributions and reasons, ~3 KB). One run on a
shared machine: read the figures as indicative. `make bench-audit` runs it; PostgreSQL from
KYKYTUTKA_TEST_POSTGRES_SERVER (default host=127.0.0.1 port=5432 user=root).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from audit.chain import RowCodec, link
from audit.schema import GENESIS, decisions
from audit.store import AuditStore
from audit.verify import verify_chain

SEQUENTIAL = 200
ROUNDS = 3
THREADS = 16
PER_THREAD = 60
VERIFY_ROWS = 20_000
POSTGRES = os.environ.get("KYKYTUTKA_TEST_POSTGRES_SERVER", "host=127.0.0.1 port=5432 user=root")

REASON = (
    "Työttömyys on kestänyt 30 kuukautta, mikä lisää tuen tarpeen todennäköisyyttä "
    "(työkyvyn tuen tarve)."
)
FEATURES = [
    "age",
    "months_unemployed",
    "sickness_absence_days",
    "work_ability_score",
    "referral_source",
    "contact_reason",
    "previous_visits",
    "education",
    "living_alone",
    "income_support",
    "consent_multi_agency",
    "municipality",
]


def decision_row(number: int) -> dict[str, Any]:
    contributions = {name: (-1) ** i * (0.01 + i / 97) for i, name in enumerate(FEATURES)}
    reasons = [
        {"field": n, "text": REASON, "contribution": 0.3 - i / 10}
        for i, n in enumerate(FEATURES[:4])
    ]
    return {
        "decision_id": str(uuid.uuid4()),
        "decided_at": datetime.now(UTC),
        "client_ref_hash": f"{number:064x}",
        "booking_id": f"B-{number}",
        "model_name": "kykytutka",
        "model_version": "3",
        "contract_version": "1.2.0",
        "alert_probability": 0.1 + number % 1000 / 1234,
        "alert": number % 3 == 0,
        "segment_id": "S2",
        "inputs": {name: number % 17 for name in FEATURES} | {"client_ref": None, "sex": "female"},
        "output": {
            "alert_level": "high",
            "contributions": contributions,
            "reasons": reasons,
            "recommendation": {
                "support_level": "team",
                "contributions": contributions,
                "reasons": reasons,
            },
            "segment": {"id": "S2", "name": "Pitkäaikaistyöttömät", "service_path": [REASON] * 3},
            "base_value": -1.7,
        },
        "made_by": "booking-system-1",
    }


def chain_cpu() -> tuple[float, float, int]:
    """µs per row: storing a row's values (JSON text included) alone, and with its chain link
    (the best of five rounds of 2,000 rows: the machine's other work left out)."""
    codec = RowCodec(decisions)
    rows = [decision_row(n) for n in range(2_000)]
    stored, chained = [], []
    for _ in range(5):
        started = time.perf_counter()
        for row in rows:
            codec.stored(row)
        stored.append((time.perf_counter() - started) / len(rows) * 1e6)
        started = time.perf_counter()
        prev = GENESIS
        for seq, row in enumerate(rows, 1):
            values = codec.stored(row)
            values["seq"] = seq
            prev = link(prev, codec.canonical(values))
        chained.append((time.perf_counter() - started) / len(rows) * 1e6)
    return min(stored), min(chained), len(json.dumps(rows[0], default=str))


@contextmanager
def postgres_database() -> Iterator[str | None]:
    try:
        import psycopg

        name = f"kykytutka_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(f"{POSTGRES} dbname=postgres", autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
    except Exception as exc:  # the PostgreSQL rows are left out
        print(f"(PostgreSQL not measured: {type(exc).__name__})")
        yield None
        return
    params = dict(item.split("=", 1) for item in POSTGRES.split())
    try:
        yield (
            f"postgresql+psycopg://{params.get('user', 'root')}@{params.get('host', '127.0.0.1')}"
            f":{params.get('port', '5432')}/{name}"
        )
    finally:
        with psycopg.connect(f"{POSTGRES} dbname=postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def fresh(url: str) -> None:
    """Empty the store at ``url`` (tables dropped; the next AuditStore makes them again)."""
    from audit.schema import metadata

    engine = sa.create_engine(url)
    metadata.drop_all(engine)
    engine.dispose()


def sequential(url: str, synchronous: str, chain: bool) -> list[float]:
    fresh(url)
    store = AuditStore(url, timeout=10, synchronous=synchronous)
    store._writer.chain = chain
    timings = []
    try:
        for number in range(SEQUENTIAL + 20):
            row = decision_row(number)
            started = time.perf_counter()
            store.record([row])
            timings.append(time.perf_counter() - started)
    finally:
        store.close()
    return timings[20:]  # the first ones open the connection and warm the caches


def before(url: str) -> list[float]:
    """The write as it was before the chain and the writer: the caller's own INSERT and commit on
    a pooled connection (SQLite NORMAL), JSON by SQLAlchemy's own serializer."""
    fresh(url)
    AuditStore(url, synchronous="NORMAL").close()  # the tables
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA wal_autocheckpoint=0")

    names = [c.name for c in decisions.columns]
    sql = f"INSERT INTO decisions ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    dialect = engine.dialect
    processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in decisions.columns]
    timings = []
    for number in range(SEQUENTIAL + 20):
        row = decision_row(number) | {"seq": number + 1, "prev_hash": "", "row_hash": ""}
        started = time.perf_counter()
        values = tuple(
            row[n] if p is None or row[n] is None else p(row[n])
            for n, p in zip(names, processors, strict=True)
        )
        connection = engine.raw_connection()
        cursor = connection.cursor()
        cursor.executemany(sql, [values])
        cursor.close()
        connection.commit()
        connection.close()
        timings.append(time.perf_counter() - started)
    engine.dispose()
    return timings[20:]


def concurrent(url: str, synchronous: str, chain: bool) -> tuple[float, float, list[float]]:
    """Writes a second with THREADS callers, writes per commit, and each write's latency."""
    fresh(url)
    store = AuditStore(url, timeout=30, synchronous=synchronous)
    store._writer.chain = chain
    store.record([decision_row(0)])
    latencies: list[float] = []
    lock = threading.Lock()

    def caller(first: int) -> None:
        mine = []
        for number in range(first, first + PER_THREAD):
            row = decision_row(number)
            started = time.perf_counter()
            store.record([row])
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    transactions = store._writer.transactions
    threads = [threading.Thread(target=caller, args=(1 + i * PER_THREAD,)) for i in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    commits = store._writer.transactions - transactions
    store.close()
    writes = THREADS * PER_THREAD
    return writes / seconds, writes / max(commits, 1), latencies


def verify_speed(url: str) -> float:
    fresh(url)
    store = AuditStore(url, timeout=60)
    for start in range(0, VERIFY_ROWS, 1_000):
        store.record([decision_row(n) for n in range(start, start + 1_000)])
    started = time.perf_counter()
    result = verify_chain(store.engine)
    seconds = time.perf_counter() - started
    store.close()
    assert result.intact and result.total == VERIFY_ROWS
    return VERIFY_ROWS / seconds


def ms(values: list[float], q: float = 0.5) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def fsync_ms(folder: Path) -> float:
    """The disk's own cost: the median of appending 4 KB to a file and fsyncing it."""
    timings = []
    with (folder / "fsync.probe").open("ab") as probe:
        for _ in range(200):
            started = time.perf_counter()
            probe.write(b"x" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
            timings.append(time.perf_counter() - started)
    return ms(timings)


def main() -> None:
    stored, chained, size = chain_cpu()
    print(f"decision row ~{size:,} bytes as JSON")
    print(
        f"1. chain CPU per row: values stored {stored:.1f} µs, with canonical text and SHA-256 "
        f"{chained:.1f} µs: the chain adds {chained - stored:.1f} µs"
    )
    with tempfile.TemporaryDirectory() as folder, postgres_database() as postgres:
        files = iter(range(1_000))

        def sqlite() -> str:  # a new file for each run: no run inherits another's log
            return f"sqlite:///{Path(folder) / f'bench-{next(files)}.db'}"

        print(f"   (this disk: 4 KB append + fsync {fsync_ms(Path(folder)):.3f} ms, median)")
        print(f"2. one write at a time, {ROUNDS} x {SEQUENTIAL} writes: median / p99 ms")
        base = [t for _ in range(ROUNDS) for t in before(sqlite())]
        print(
            f"   {'before (caller INSERT, SQLite NORMAL)':38s} {ms(base):6.3f} / {ms(base, 0.99):6.3f}"
        )
        results: dict[tuple[str, bool], list[float]] = {}
        setups: list[tuple[str, Any, str]] = [
            ("SQLite NORMAL", sqlite, "NORMAL"),
            ("SQLite FULL", sqlite, "FULL"),
        ]
        if postgres:
            setups.append(("PostgreSQL", lambda: postgres, "FULL"))
        for label, url, synchronous in setups:
            for _ in range(ROUNDS):  # interleaved: a change in the machine's load hits both
                for chain in (False, True):
                    timings = sequential(url(), synchronous, chain)
                    results.setdefault((label, chain), []).extend(timings)
            for chain in (False, True):
                timings = results[(label, chain)]
                name = f"{label}, {'chained' if chain else 'no chain'}"
                print(f"   {name:38s} {ms(timings):6.3f} / {ms(timings, 0.99):6.3f}")
        for label, _, _ in setups:
            plain, chained_ms = ms(results[(label, False)]), ms(results[(label, True)])
            print(
                f"   {label}: the chain costs {chained_ms - plain:+.3f} ms a write "
                f"({chained_ms / plain:.2f}x)"
            )
        full, normal = ms(results[("SQLite FULL", True)]), ms(results[("SQLite NORMAL", True)])
        print(f"   SQLite FULL / NORMAL (chained): {full / normal:.1f}x ({full - normal:+.3f} ms)")
        print(f"   chained SQLite FULL / before: {full / ms(base):.1f}x")
        print(
            f"3. {THREADS} threads x {PER_THREAD} writes: writes/s, writes per commit, "
            "median / p99 ms"
        )
        for label, url, synchronous in setups:
            for chain in (False, True):
                rate, per_commit, latencies = concurrent(url(), synchronous, chain)
                name = f"{label}, {'chained' if chain else 'no chain'}"
                print(
                    f"   {name:30s} {rate:8.0f}/s  {per_commit:5.1f} per commit  "
                    f"{ms(latencies):6.2f} / {ms(latencies, 0.99):6.2f}"
                )
        print(f"4. verify, {VERIFY_ROWS:,} decisions:")
        for label, url, _ in setups[1:]:
            print(f"   {label:14s} {verify_speed(url()):9,.0f} rows/s")


if __name__ == "__main__":
    main()
