"""Benchmark: the auditor's decision page with 100,000 decisions stored (issue: under 50 ms).

1. Trains and promotes a champion in a temporary project and makes 1,000 real decisions through
   the scoring API (POST /v1/assessments:batch, in process).
2. Fills the SQLite audit store to 100,000 decisions: those rows copied with new decision ids,
   booking ids, client hashes and times, written through ``AuditStore.record`` in batches of 1,000
   (the writer chains them as it chains the service's); feedback on every 20th decision, an
   outcome on every 10th, and a checkpoint signed with the service's key after each batch (so the
   page's chain check has one to verify). Prints how long that took.
3. Signed in as an auditor, in process (TestClient: no network, so the time is the server's, plus
   the test client's own small share): GET /ui/decisions/{id} for 200 decisions spread over the
   store (first, middle, last, evenly spaced, random): median and p95 (a page that is not a 200
   is counted and left out). Then the medians of the decision list: its first page, page 500 and
   ``?level=raised``.
4. If the decision page misses 50 ms at the p95: cProfile of its endpoint for 50 decisions
   (called in this thread with the signed-in request), the 15 entries with the most cumulative time.

One run on a shared 2-core machine: read the figures as indicative. BENCH_DECISIONS (a multiple
of 1,000) makes a smaller store for a quick try.
"""

from __future__ import annotations

import cProfile
import hashlib
import io
import os
import pstats
import random
import re
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.testclient import TestClient

from audit.chain import utc
from audit.checkpoints import load_signer
from audit.schema import decisions
from audit.store import AuditStore
from benchmarks.champion import train_champion
from benchmarks.serve_speed import service_env
from data_contracts.records import as_json_records
from serving.app import create_app
from serving.pages.auditor import decision_page
from serving.security import Role, create_key
from serving.settings import ServiceSettings
from synthetic.cohort import generate_cohort

DECISIONS = int(os.environ.get("BENCH_DECISIONS", "100000"))  # a multiple of BATCH
BATCH = 1_000  # real decisions, and then rows per write
PAGES = 200  # decision pages measured
REPEAT = 20  # requests of each list page
PROFILED = 50
GOAL_MS = 50.0
CHAIN = ("seq", "prev_hash", "row_hash")


def ms(values: list[float], q: float = 0.5) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def real_decisions(client: TestClient, key: str) -> list[str]:
    """BATCH decisions made by the service, 200 a request (the body stays under its limit)."""
    records = as_json_records(generate_cohort("pirkanmaa", BATCH, seed=11))
    headers = {"Authorization": f"Bearer {key}"}
    ids: list[str] = []
    for start in range(0, BATCH, 200):
        body = {"records": records[start : start + 200]}
        answer = client.post("/v1/assessments:batch", json=body, headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"batch refused: {answer.status_code} {answer.text[:300]}")
        ids += [a["decision_id"] for a in answer.json()["assessments"]]
    return ids


STEP = timedelta(milliseconds=100)  # between copied decisions


def copied(template: dict[str, Any], number: int, when: datetime) -> dict[str, Any]:
    """A stored decision as another booking's: new id, booking, client hash and time."""
    row = {k: v for k, v in template.items() if k not in CHAIN}
    decision_id, booking = str(uuid.uuid4()), f"BENCH-{number:06d}"
    row |= {
        "decision_id": decision_id,
        "booking_id": booking,
        "decided_at": when,
        "client_ref_hash": hashlib.sha256(f"client-{number % 40_000}".encode()).hexdigest(),
        "inputs": {**template["inputs"], "booking_id": booking},
    }
    row["output"] = {**template["output"], "decision_id": decision_id, "booking_id": booking}
    if "decided_at" in row["output"]:
        row["output"]["decided_at"] = utc(when).isoformat()
    return row


def fill(store: AuditStore, real: list[str], key_file: Path) -> list[str]:
    """The store filled to DECISIONS decisions (the real ones first), with feedback, outcomes
    and checkpoints; the decision ids in the order written."""
    templates = [row for row in map(store.get, real) if row is not None]
    assert len(templates) == BATCH, "the real decisions are not all stored"
    first: datetime = templates[0]["decided_at"]
    signer = load_signer(key_file)
    ids = list(real)
    for start in range(0, DECISIONS, BATCH):
        if start:
            rows = [
                copied(templates[n % BATCH], n, first + STEP * n)
                for n in range(start, start + BATCH)
            ]
            store.record(rows)
            ids += [row["decision_id"] for row in rows]
        given = []
        for n in range(start, start + BATCH):
            decided, when = ids[n], first + STEP * n
            if n % 20 == 0:
                overridden = n % 40 == 0
                given.append(
                    {
                        "decision_id": decided,
                        "outcome": "overridden" if overridden else "accepted",
                        "override_reason": "not-relevant" if overridden else None,
                        "outcome_at": when + timedelta(minutes=1),
                        "received_at": when + timedelta(minutes=1),
                        "recorded_by": "bench",
                    }
                )
            if n % 10 == 0:
                level = ("self_care", "consultation", "team", None)[n // 10 % 4]
                outcome = {
                    "decision_id": decided,
                    "needs_support": level is not None,
                    "support_level": level,
                    "confirmed_at": when + timedelta(days=30),
                    "received_at": when + timedelta(days=30),
                    "recorded_by": "coordinator",
                }
                store.record_outcome(outcome)
        store.record_feedback(given)
        store.sign_checkpoint(signer)
    return ids


def sign_in(client: TestClient, key: str) -> None:
    form = client.get("/ui/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if token is None:
        raise SystemExit("no csrf token on the sign-in page")
    answer = client.post("/ui/sign-in", data={"csrf": token.group(1), "key": key})
    if answer.status_code != 303:
        raise SystemExit(f"sign-in refused: {answer.status_code}")


def timed(
    client: TestClient, paths: list[str], failed: dict[str, str] | None = None
) -> list[float]:
    """Each request's wall time; a page that is not a 200 stops the run, or with ``failed`` is
    put there (path: its status) and left out of the timings."""
    timings = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        seconds = time.perf_counter() - started
        if answer.status_code == 200:
            timings.append(seconds)
        elif failed is not None:
            failed[path] = f"HTTP {answer.status_code}"
        else:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
    return timings


def profiled(client: TestClient, ids: list[str]) -> str:
    """cProfile of the decision page's endpoint called here, in this thread, with the signed-in
    request it gets in the server (the server runs it in a worker thread cProfile does not see)."""
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    profile = cProfile.Profile()
    for decision_id in ids:
        request = Request(
            {
                "type": "http", "app": client.app, "method": "GET", "scheme": "http",
                "server": ("testserver", 80), "root_path": "", "query_string": b"",
                "path": f"/ui/decisions/{decision_id}",
                "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
            }
        )  # fmt: skip
        answer = profile.runcall(decision_page, request, decision_id)
        if answer.status_code != 200:
            raise SystemExit(f"profiled page {decision_id}: {answer.status_code}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(15)
    return out.getvalue()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        started = time.perf_counter()
        train_champion(project)
        print(f"champion trained and promoted in {time.perf_counter() - started:.0f} s")
        env, booking_key = service_env(project)
        auditor_key = create_key(project / "keys.json", "auditor", Role.AUDITOR)
        os.environ.update(env)
        os.environ.update(
            KYKYTUTKA_MODEL_POLL_SECONDS="0",  # no registry polling beside the measured pages
            KYKYTUTKA_AUDIT_TIMEOUT_SECONDS="30",  # a batch of 200 on a busy machine
            KYKYTUTKA_LOG_LEVEL="warning",  # no line per decision on the screen
        )
        started = time.perf_counter()
        with TestClient(create_app(ServiceSettings())) as client:
            real = real_decisions(client, booking_key)
        made = time.perf_counter() - started
        # NORMAL: the same rows, without an fsync per outcome (the filling is not what is measured)
        store = AuditStore(env["KYKYTUTKA_AUDIT_URL"], timeout=120, synchronous="NORMAL")
        started = time.perf_counter()
        ids = fill(store, real, project / "checkpoint.key")
        filled = time.perf_counter() - started
        seq, _ = store.head()
        checkpoints = store.last_checkpoint_seq()
        level = decisions.c.output["alert_level"].as_string()
        with store.engine.connect() as connection:
            levels: dict[str, int] = dict(
                connection.execute(sa.select(level, sa.func.count()).group_by(level)).all()
            )
        store.close()
        print(
            f"{len(real):,} real decisions through the API in {made:.1f} s; store filled to "
            f"{len(ids):,} decisions ({seq:,} chained rows with feedback and outcomes, last "
            f"checkpoint at seq {checkpoints:,}) in {filled:.1f} s; alert levels {levels}"
        )

        chosen = random.Random(5).sample(range(DECISIONS), PAGES)
        spread = [0, DECISIONS // 2, DECISIONS - 1, *range(1, DECISIONS, DECISIONS // 50)]
        numbers = list(dict.fromkeys([*spread, *chosen]))[:PAGES]
        pages = [f"/ui/decisions/{ids[n]}" for n in numbers]
        failed: dict[str, str] = {}
        app = create_app(ServiceSettings())
        # a page that fails is counted and left out, not raised here
        with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
            sign_in(client, auditor_key)
            warm = [f"/ui/decisions/{ids[n]}" for n in range(5, DECISIONS, DECISIONS // 10)]
            timed(client, warm, {})
            page_times = timed(client, pages, failed)
            lists = {
                name: timed(client, [path] * REPEAT)
                for name, path in (
                    ("first page", "/ui/decisions"),
                    ("page 500", "/ui/decisions?page=500"),
                    ("level=raised", "/ui/decisions?level=raised"),
                )
            }
            median, p95 = ms(page_times), ms(page_times, 0.95)
            met = "met" if p95 < GOAL_MS else "missed"
            print(
                f"decision page, {DECISIONS:,} decisions, {len(page_times)} pages: median "
                f"{median:.1f} ms, p95 {p95:.1f} ms, max {ms(page_times, 1.0):.1f} ms "
                f"(goal < {GOAL_MS:.0f} ms at the p95): {met}"
            )
            if failed:
                answers = dict(Counter(failed.values()))
                print(f"  {len(failed)} of {len(pages)} pages failed (left out): {answers}")
            for name, timings in lists.items():
                print(f"decision list, {name}: median {ms(timings):.1f} ms ({REPEAT} requests)")
            if met == "missed":
                print(f"profile of {PROFILED} decision pages, by cumulative time:")
                shown = [p.rsplit("/", 1)[1] for p in pages if p not in failed][:PROFILED]
                print(profiled(client, shown))


if __name__ == "__main__":
    main()
