"""Benchmark: the registered model's ``predict`` against one whole API request (issue 10's goals).

1. Trains and promotes a model (default hyperparameters) in a temporary project.
2. ``mlflow.pyfunc.load_model("models:/kykytutka@champion").predict`` on a one-row frame of JSON
   values (as ``mlflow models serve`` and small Spark batches call it): median of many calls.
3. One whole API request with reasons and audit to ``kykytutka serve`` with one worker, one
   connection, requests one after another: median.
4. ``predict`` on 100,000 rows: rows per second (median of three calls).

Goals: the one-row predict takes no longer than one API request; 100,000 rows at least 45,000
rows/s (the throughput before the one-scoring-path change). One run on a shared 2-core machine:
read the figures as indicative. `make bench-pyfunc` runs it.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import pandas as pd

from benchmarks.champion import train_champion
from benchmarks.serve_speed import _port, _wait, service_env
from data_contracts.records import as_json_records
from models.registry import use_tracking
from synthetic.cohort import generate_cohort
from tests.projects import inside_project

ONE_ROW_CALLS = 300
API_CALLS = 500
BIG = 100_000
GOAL_ROWS_PER_SECOND = 45_000


def _median_ms(call: object, times: int) -> float:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1000


def _api_request_ms(project: Path, record: dict[str, object]) -> float:
    bin_dir = Path(sys.executable).parent
    env, key = service_env(project)
    port = _port()
    service = subprocess.Popen(
        [str(bin_dir / "kykytutka"), "serve", "--port", str(port), "--workers", "1"],
        env=env, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/readyz")
        connection = http.client.HTTPConnection("127.0.0.1", port)
        body = json.dumps(record)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

        def request() -> None:
            connection.request("POST", "/v1/assessments", body, headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise SystemExit(f"the API answered {answer.status}")

        for _ in range(100):
            request()
        return _median_ms(request, API_CALLS)
    finally:
        service.terminate()
        service.wait(timeout=30)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        train_champion(project)
        with inside_project(project):
            use_tracking(project)
            model = mlflow.pyfunc.load_model("models:/kykytutka@champion")
            one = pd.DataFrame(as_json_records(generate_cohort("pirkanmaa", 1, seed=4)))
            for _ in range(20):
                model.predict(one)
            one_row_ms = _median_ms(lambda: model.predict(one), ONE_ROW_CALLS)
            big = pd.DataFrame(as_json_records(generate_cohort("pirkanmaa", BIG, seed=5)))
            big_seconds = [_median_ms(lambda: model.predict(big), 1) / 1000 for _ in range(3)]
            rows_per_second = BIG / statistics.median(big_seconds)
        api_ms = _api_request_ms(project, as_json_records(generate_cohort("pirkanmaa", 1, 4))[0])
    ratio = one_row_ms / api_ms
    meets_ratio = "meets" if ratio <= 1 else "MISSES"
    meets_rate = "meets" if rows_per_second >= GOAL_ROWS_PER_SECOND else "MISSES"
    print(f"pyfunc predict, one row (median of {ONE_ROW_CALLS}): {one_row_ms:.2f} ms")
    print(f"one whole API request with reasons and audit (median of {API_CALLS}): {api_ms:.2f} ms")
    print(f"  ratio pyfunc one row / API request: {ratio:.2f} ({meets_ratio} the goal <= 1)")
    print(
        f"pyfunc predict, {BIG:,} rows (median of 3): {statistics.median(big_seconds):.2f} s, "
        f"{rows_per_second:,.0f} rows/s ({meets_rate} the goal >= {GOAL_ROWS_PER_SECOND:,})"
    )


if __name__ == "__main__":
    main()
