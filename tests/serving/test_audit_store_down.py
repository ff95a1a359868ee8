"""A locked or slow audit store holds up only the decisions waiting for it: each is answered 503
within about the audit timeout, and /healthz keeps answering at once (real HTTP, two workers)."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from data_contracts.records import as_json_records
from synthetic.cohort import generate_cohort
from tests.serving.conftest import Service

pytestmark = [pytest.mark.code, pytest.mark.slow]  # over a running service

RECORDS = as_json_records(generate_cohort("pirkanmaa", 6, seed=31))


def timed(service: Service, method: str, path: str, body: Any = None) -> tuple[int, float]:
    started = time.monotonic()
    status, _ = service.call(method, path, body, role=None if body is None else "booking-system")
    return status, time.monotonic() - started


def test_a_locked_store_is_a_quick_503_and_health_stays_responsive(service: Service) -> None:
    assert service.call("POST", "/v1/assessments", RECORDS[0])[0] == 200
    path = service.env["KYKYTUTKA_AUDIT_URL"].removeprefix("sqlite:///")
    lock = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # another process holds the store's write lock
        with ThreadPoolExecutor(6) as pool:
            assessed = [
                pool.submit(timed, service, "POST", "/v1/assessments", record)
                for record in RECORDS[1:4]
            ]
            time.sleep(0.2)
            health = [pool.submit(timed, service, "GET", "/healthz") for _ in range(3)]
            answers = [future.result() for future in assessed + health]
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    # The audit timeout is 1 s by default; the lock wait and the answer take a little more.
    for status, seconds in answers[:3]:
        assert status == 503 and seconds < 2.5, answers
    for status, seconds in answers[3:]:
        assert status == 200 and seconds < 0.5, answers
    assert service.call("POST", "/v1/assessments", RECORDS[4])[0] == 200  # and back
    # "No decision was made" holds: none of the refused ones was written late.
    with sqlite3.connect(path) as reader:
        stored = {row[0] for row in reader.execute("SELECT booking_id FROM decisions")}
    assert RECORDS[4]["booking_id"] in stored
    assert not stored & {record["booking_id"] for record in RECORDS[1:4]}
