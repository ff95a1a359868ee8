"""Soak: the service under a few minutes of mixed good and bad load; memory growth and errors.

1. Trains and promotes a model (default hyperparameters) in a temporary project, as bench-serve.
2. Starts `kykytutka serve` (2 workers, as in production) and warms it up.
3. Runs wrk on loopback for SOAK_SECONDS (default 180) with a mix of requests (wrk Lua): good
   assessments and batches, audit reads, health checks, and bad ones: broken JSON, wrong types,
   NaN, unknown fields, unknown keys, unknown decisions, bodies over the limit.
4. Prints the workers' resident memory at the start and the end (and every 30 s between), the
   requests and their status classes, the 5xx count and wrk's socket errors, and the service's
   error-level log lines. Exit 1 on any 5xx, socket error or error-level log line.

The per-key rate limit is off here (one key at full speed would mostly be answered 429); the
rate limit has its own tests. One run on a shared 2-core machine: read the figures as indicative.
`make soak` runs it; SOAK_SECONDS=30 make soak for a short one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.champion import train_champion
from benchmarks.serve_speed import _port, _wait, service_env
from data_contracts.records import as_json_records
from serving.security import Role, create_key
from synthetic.cohort import generate_cohort

SECONDS = int(os.environ.get("SOAK_SECONDS", "180"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "2"))
CONNECTIONS = 16
SAMPLE_SECONDS = 30
MAX_BODY = 65_536

#: (weight, method, path, body, key): ``key`` "booking", "auditor" or "unknown"
LUA = r"""
local requests = {}
local weights = %(weights)s
counts = {}  -- a global: done() reads every thread's
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end

function init(args)
  for i, spec in ipairs(%(specs)s) do
    for _ = 1, weights[i] do
      table.insert(requests, wrk.format(spec[1], spec[2], spec[3], spec[4]))
    end
  end
  counts = {}
  math.randomseed(os.time() * 100 + (seed or 0))
end

function request()
  return requests[math.random(#requests)]
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local theirs = thread:get("counts")
    for status, n in pairs(theirs) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%%d": %%d', status, n))
  end
  io.write("STATUSES {" .. table.concat(parts, ", ") .. "}\n")
  local e = summary.errors
  io.write(string.format(
    'SOCKET {"connect": %%d, "read": %%d, "write": %%d, "timeout": %%d}\n',
    e.connect, e.read, e.write, e.timeout))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal here (ASCII)


def mix(booking: str, auditor: str, decision: str) -> list[tuple[int, str, str, str, str]]:
    records = as_json_records(generate_cohort("pirkanmaa", 10, seed=4))
    good = json.dumps(records[0])
    bad_type = json.dumps({**records[1], "age": "forty"})
    unknown_field = json.dumps({**records[2], "comment": "free text"})
    nan = good.replace(f'"age": {records[0]["age"]}', '"age": NaN')
    oversized = json.dumps({**records[3], "filler": "x" * (MAX_BODY + 1000)})
    batch = json.dumps({"records": records})
    return [
        (60, "POST", "/v1/assessments", good, booking),
        (5, "POST", "/v1/assessments:batch", batch, booking),
        (5, "GET", f"/v1/assessments/{decision}", "", auditor),
        (4, "GET", "/healthz", "", ""),
        (5, "POST", "/v1/assessments", good[:-15], booking),  # broken JSON
        (5, "POST", "/v1/assessments", bad_type, booking),
        (4, "POST", "/v1/assessments", unknown_field, booking),
        (3, "POST", "/v1/assessments", nan, booking),
        (4, "POST", "/v1/assessments", good, "kyk_unknown"),
        (3, "GET", "/v1/assessments/00000000-0000-4000-8000-000000000000", "", auditor),
        (2, "POST", "/v1/assessments", oversized, booking),
    ]


def lua_script(specs: list[tuple[int, str, str, str, str]]) -> str:
    weights = "{" + ", ".join(str(w) for w, *_ in specs) + "}"
    rows = []
    for _, method, path, body, key in specs:
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        pairs = (f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
        header_table = "{" + ", ".join(pairs) + "}"
        lua_body = _lua_string(body) if body else "nil"
        rows.append(f"{{{_lua_string(method)}, {_lua_string(path)}, {header_table}, {lua_body}}}")
    return LUA % {"weights": weights, "specs": "{" + ",\n  ".join(rows) + "}"}


def workers_rss(parent: int) -> dict[int, int]:
    """Resident memory (kB) of the server's worker processes (the parent's children)."""
    children = subprocess.run(
        ["pgrep", "-P", str(parent)], capture_output=True, text=True
    ).stdout.split()
    found = {}
    for pid in children:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"resource_tracker" in cmdline:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            found[int(pid)] = int(match.group(1))
    return found


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make soak`, which installs it")
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        train_champion(project)
        env, booking = service_env(project)
        auditor = create_key(project / "keys.json", "soak-auditor", Role.AUDITOR)
        env["KYKYTUTKA_RATE_LIMIT_PER_SECOND"] = "0"
        env["KYKYTUTKA_MAX_BODY_BYTES"] = str(MAX_BODY)
        env["KYKYTUTKA_MODEL_POLL_SECONDS"] = "0"
        port = _port()
        log = project / "service.log"
        with log.open("wb") as stderr:
            server = subprocess.Popen(
                [str(bin_dir / "kykytutka"), "serve", "--port", str(port),
                 "--workers", str(WORKERS)],
                env=env, cwd=project, stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(f"{url}/readyz")
            headers = {"Authorization": f"Bearer {booking}"}
            record = as_json_records(generate_cohort("pirkanmaa", 1, seed=4))[0]
            decision = ""
            for _ in range(300):  # warm up both workers
                answer = httpx.post(f"{url}/v1/assessments", json=record, headers=headers)
                decision = answer.json()["decision_id"]
            script = project / "soak.lua"
            script.write_text(lua_script(mix(booking, auditor, decision)))
            start_rss = workers_rss(server.pid)
            samples: list[tuple[float, int]] = []
            started = time.monotonic()
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(SAMPLE_SECONDS):
                    rss = sum(workers_rss(server.pid).values())
                    samples.append((time.monotonic() - started, rss))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            done = subprocess.run(
                ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{SECONDS}s",
                 "--timeout", "10s", "-s", str(script), url],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
            out = done.stdout
            stop.set()
            end_rss = workers_rss(server.pid)
            alive = server.poll() is None
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=30)
        report(out, start_rss, end_rss, samples, alive, log)


def report(
    out: str,
    start_rss: dict[int, int],
    end_rss: dict[int, int],
    samples: list[tuple[float, int]],
    alive: bool,
    log: Path,
) -> None:
    statuses = {int(k): v for k, v in json.loads(_line(out, "STATUSES")).items()}
    sockets = json.loads(_line(out, "SOCKET"))
    total = sum(statuses.values())
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    classes = {f"{c}xx": sum(n for s, n in statuses.items() if s // 100 == c) for c in (2, 4, 5)}
    errors_logged = [
        line
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.startswith("{") and json.loads(line).get("level") in ("error", "critical")
    ]
    print(f"soak: {SECONDS} s, wrk -t 2 -c {CONNECTIONS}, {WORKERS} workers, mixed requests")
    print(f"  requests: {total:,} ({rate:.0f} req/s)")
    print(
        f"  statuses: 2xx {classes['2xx']:,}, 4xx {classes['4xx']:,}, 5xx {classes['5xx']:,} "
        f"(by code: {dict(sorted(statuses.items()))})"
    )
    print(f"  socket errors: {sockets} (total {sum(sockets.values())})")
    print(
        f"  workers' RSS: start {sum(start_rss.values()) / 1024:.0f} MB "
        f"({', '.join(f'{v / 1024:.0f}' for v in start_rss.values())}), end "
        f"{sum(end_rss.values()) / 1024:.0f} MB "
        f"({', '.join(f'{v / 1024:.0f}' for v in end_rss.values())}), growth "
        f"{(sum(end_rss.values()) - sum(start_rss.values())) / 1024:+.1f} MB"
    )
    if samples:
        trend = ", ".join(f"{t:.0f} s: {rss / 1024:.0f} MB" for t, rss in samples)
        print(f"  RSS every {SAMPLE_SECONDS} s: {trend}")
    print(f"  error-level log lines: {len(errors_logged)}")
    for line in errors_logged[:5]:
        print(f"    {line[:200]}")
    failed = classes["5xx"] or sum(sockets.values()) or errors_logged or not alive
    if failed:
        print("  FAILED: " + ("the server died; " if not alive else "") + "see above")
        raise SystemExit(1)


def _line(out: str, tag: str) -> str:
    match = re.search(rf"^{tag} (.*)$", out, re.MULTILINE)
    if match is None:
        raise SystemExit(f"wrk printed no {tag} line:\n{out}")
    return match.group(1)


if __name__ == "__main__":
    main()
