"""A trained and promoted champion in a temporary project, and the service running on it."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from audit.checkpoints import create_checkpoint_key
from models.registry import use_tracking
from serving.security import Role, create_key
from tests.projects import inside_project
from training.config import TrainConfig
from training.registry import promote
from training.train import train

SMALL = {
    "name": "serving",
    "data": {"rows_per_region": 8_000, "seed": 11},
    "segmentation": {"candidate_counts": [3, 4], "sample_rows": 3_000, "bootstrap_refits": 2},
}


@dataclass
class Service:
    url: str
    keys: dict[str, str]
    env: dict[str, str]
    project: Path
    log: Path  # the service's stderr: its JSON log lines

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        role: str | None = "booking-system",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if role is not None:
            request.add_header("Authorization", f"Bearer {self.keys[role]}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            payload, status = error.read(), error.code
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload.decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def champion_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with inside_project(tmp_path_factory.mktemp("serving")) as project:
        train(TrainConfig.model_validate(SMALL), project_dir=project)
        decision = promote(use_tracking(project))
        assert decision.promoted, decision.reason
    yield project


def service_env(project: Path, **extra: str) -> dict[str, str]:
    create_checkpoint_key(project / "checkpoint.key")  # once per project; kept if it exists
    return {
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "KYKYTUTKA_PSEUDONYM_KEY": secrets.token_urlsafe(48),
        "KYKYTUTKA_API_KEYS_FILE": str(project / "api-keys.json"),
        "KYKYTUTKA_AUDIT_URL": f"sqlite:///{project / 'audit.db'}",
        "KYKYTUTKA_CHECKPOINT_KEY_FILE": str(project / "checkpoint.key"),
        "KYKYTUTKA_MODEL_CACHE_DIR": str(project / "model-cache"),
        "KYKYTUTKA_MODEL_POLL_SECONDS": "0",
        "KYKYTUTKA_MAX_BATCH": "50",
        "KYKYTUTKA_MAX_BODY_BYTES": "65536",
        **extra,
    }


@pytest.fixture(scope="session")
def service(champion_project: Path) -> Iterator[Service]:
    keys_file = champion_project / "api-keys.json"
    keys = {role.value: create_key(keys_file, f"test-{role.value}", role) for role in Role}
    # A second booking system, which must not see the first one's decisions.
    keys["other-booking-system"] = create_key(keys_file, "test-other", Role.BOOKING_SYSTEM)
    env = service_env(champion_project)
    port = free_port()
    log = champion_project / "service.log"
    # A file, not a pipe: nobody reads a pipe during the tests, and a full one would block the
    # service at its next log line. Two workers, as in production.
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "kykytutka"), "serve", "--port", str(port),
             "--workers", "2"],
            env={**os.environ, **env},
            cwd=champion_project,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # two workers import the stack on a busy machine
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        else:
            pytest.fail("the service did not become ready within 180 s")
        yield Service(url, keys, env, champion_project, log)
    finally:
        process.terminate()
        process.wait(timeout=30)
