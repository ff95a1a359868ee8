"""Benchmark: the scoring API against `mlflow models serve` on the same registered model.

1. Trains and promotes a model (default hyperparameters) in a temporary project.
2. Latency at about 200 requests per second on our API (assessment *with* reasons, audited): wrk
   with 20 connections each pausing 100 ms after every answer. wrk is C, so the load generator
   takes little of the 2 cores it shares with the server (a Python generator took most of them).
   Paced this way the rate drops a little when answers slow down: the p99 is of a closed loop.
3. Throughput: wrk (Debian's package) saturates each server in turn with the same tool, the same
   connections and the same record: ours with reasons and audit, MLflow's without. Prints both
   and their ratio.

One run on a shared 2-core machine: read the figures as indicative. `make bench-serve` runs it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx

from audit.checkpoints import create_checkpoint_key
from benchmarks.champion import train_champion
from data_contracts.records import as_json_records
from serving.security import Role, create_key
from synthetic.cohort import generate_cohort

RATE = 200  # requests per second
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
ONLY_OURS = os.environ.get("BENCH_ONLY_OURS") == "1"  # skip the mlflow comparison
WRK = ["-t", "2", "-c", "16", "-d", "15s", "--latency"]
PACED_CONNECTIONS = 20
PACED = ["-t", "1", "-c", str(PACED_CONNECTIONS), "-d", "20s", "--latency"]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, seconds: float = 150) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def service_env(project: Path) -> tuple[dict[str, str], str]:
    """The environment of a service in the benchmark's project folder, and a booking-system key."""
    key = create_key(project / "keys.json", "bench", Role.BOOKING_SYSTEM)
    create_checkpoint_key(project / "checkpoint.key")  # signed checkpoints run, as in production
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "KYKYTUTKA_PSEUDONYM_KEY": secrets.token_urlsafe(48),
        "KYKYTUTKA_API_KEYS_FILE": str(project / "keys.json"),
        "KYKYTUTKA_AUDIT_URL": f"sqlite:///{project / 'audit.db'}",
        "KYKYTUTKA_MODEL_CACHE_DIR": str(project / "cache"),
        # The limiter runs (its cost is measured) but one key may go as fast as it can.
        "KYKYTUTKA_RATE_LIMIT_PER_SECOND": "1000000",
        "KYKYTUTKA_CHECKPOINT_KEY_FILE": str(project / "checkpoint.key"),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    return env, key


def _wrk(
    url: str,
    body: str,
    headers: dict[str, str],
    folder: Path,
    options: list[str] = WRK,
    pause_ms: float | None = None,
) -> tuple[float, str]:
    """Requests per second and wrk's latency note. With ``pause_ms`` every connection waits that
    long after each answer (wrk's delay()), which paces the load to a target rate."""
    script = folder / f"post-{abs(hash((url, pause_ms)))}.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if pause_ms is not None:
        lines.append(f"function delay() return {pause_ms} end")
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        ["wrk", *options, "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    percentiles = " ".join(
        f"p{q} {m.group(1)}"
        for q in (50, 90, 99)
        if (m := re.search(rf"^\s+{q}%\s+(\S+)", out, re.MULTILINE))
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    note = percentiles + (f", {non2xx.group(1)} non-2xx" if non2xx else "")
    return rate, note


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make bench-serve`, which installs it")
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        train_champion(project)
        env, key = service_env(project)
        record = as_json_records(generate_cohort("pirkanmaa", 1, seed=4))[0]
        ours_port, mlflow_port = _port(), _port()
        ours = subprocess.Popen(
            [str(bin_dir / "kykytutka"), "serve", "--port", str(ours_port),
             "--workers", str(WORKERS)],
            env=env, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        theirs = None
        try:
            _wait(f"http://127.0.0.1:{ours_port}/readyz")
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            url = f"http://127.0.0.1:{ours_port}/v1/assessments"
            body = json.dumps(record)
            for _ in range(200):  # warm up both workers
                httpx.post(url, content=body, headers=headers)
            paced, paced_note = _wrk(
                url, body, headers, project, PACED, pause_ms=PACED_CONNECTIONS * 1000 / RATE
            )
            print(
                f"our API, assessment with reasons, paced to ~{RATE} req/s "
                f"({PACED_CONNECTIONS} connections, each pausing "
                f"{PACED_CONNECTIONS * 1000 / RATE:.0f} ms): {paced:.0f} req/s, {paced_note}"
            )
            ours_rate, ours_note = _wrk(url, body, headers, project)
            ours.terminate()
            ours.wait(timeout=30)
            if ONLY_OURS:
                print(f"  our API, saturated: {ours_rate:.1f} req/s ({ours_note})")
                return

            theirs = subprocess.Popen(
                [str(bin_dir / "mlflow"), "models", "serve", "-m", "models:/kykytutka@champion",
                 "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port),
                 "-w", str(WORKERS)],
                env=env, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            _wait(f"http://127.0.0.1:{mlflow_port}/ping")
            mlflow_url = f"http://127.0.0.1:{mlflow_port}/invocations"
            mlflow_body = json.dumps({"dataframe_records": [record]})
            plain = {"Content-Type": "application/json"}
            for _ in range(50):
                httpx.post(mlflow_url, content=mlflow_body, headers=plain, timeout=30)
            theirs_rate, theirs_note = _wrk(mlflow_url, mlflow_body, plain, project)
        finally:
            for process in (ours, theirs):
                if process is not None and process.poll() is None:
                    process.terminate()
                    process.wait(timeout=30)
    print(f"wrk {' '.join(WRK)}, {WORKERS} workers each:")
    print(f"  our API with reasons and audit : {ours_rate:8.1f} req/s ({ours_note})")
    print(f"  mlflow models serve, no reasons: {theirs_rate:8.1f} req/s ({theirs_note})")
    # Issue 4 set a 20x goal when the registered model paid ~80 ms a call in `mlflow models
    # serve`; since the one scoring path (issue 10) it pays about 1 ms, so the ratio now compares
    # two fast servers and is printed for information, not judged.
    print(
        f"  ratio {ours_rate / theirs_rate:.1f}x (ours with reasons and audit / MLflow's without)"
    )


if __name__ == "__main__":
    main()
