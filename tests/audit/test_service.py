"""The service's side of the audit store: readiness proves the store takes writes, and the
background task signs checkpoints (stored, and logged as a copy outside the database)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from audit.checkpoints import create_checkpoint_key, load_signer
from audit.store import AuditStore
from audit.verify import verify_chain
from serving.app import create_app
from serving.background import checkpoint_audit
from serving.settings import ServiceSettings
from tests.audit.conftest import decision

pytestmark = [pytest.mark.code]


class Lines(logging.Handler):
    """The service's log events, as parsed JSON."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[int, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(ValueError):
            self.events.append((record.levelno, json.loads(record.getMessage())))


@pytest.fixture
def service_log() -> Iterator[Lines]:
    lines = Lines()
    logger = logging.getLogger("kykytutka.serving")
    logger.addHandler(lines)
    yield lines
    logger.removeHandler(lines)


def settings_for(tmp_path: Path, **changes: Any) -> ServiceSettings:
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return ServiceSettings(
        pseudonym_key=secrets.token_urlsafe(48),
        audit_url=f"sqlite:///{tmp_path / 'audit.db'}",
        api_keys_file=tmp_path / "api-keys.json",
        model_uri="models:/not-registered@champion",
        model_cache_dir=tmp_path / "cache",
        model_poll_seconds=0,
        checkpoint_key_file=tmp_path / "checkpoint.key",
        **changes,
    )


def _immutable(paths: list[Path], on: bool) -> None:
    """Make the files unwritable even for root (the issue's scenario: `chattr +i`); as another
    user, a read-only mode does it."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True)
    else:  # pragma: no cover - CI runs as root
        for path in paths:
            path.chmod(0o400 if on else 0o600)


@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("chattr") is None, reason="chattr is not installed"
)
def test_readiness_fails_while_the_store_cannot_be_written_and_comes_back(
    tmp_path: Path, service_log: Lines
) -> None:
    settings = settings_for(tmp_path, audit_timeout_seconds=0.5, checkpoint_seconds=0)
    with TestClient(create_app(settings)) as client:
        client.app.state.loaded = SimpleNamespace(version="1", source="registry")  # type: ignore[attr-defined]
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["audit_store"] == "ok"
        # The database and its log; not the -shm file, which SQLite has mapped into memory: a
        # page of an immutable file that a process has mapped for writing kills it (SIGBUS).
        files = [tmp_path / name for name in ("audit.db", "audit.db-wal")]
        _immutable(files, True)
        try:
            unready = client.get("/readyz")
            still = client.get("/readyz")
        finally:
            _immutable(files, False)
        assert unready.status_code == 503 and unready.json()["audit_store"] == "unwritable"
        assert still.status_code == 503
        unwritable = [(lv, e) for lv, e in service_log.events if e["event"] == "audit_unwritable"]
        assert len(unwritable) == 2 and {lv for lv, _ in unwritable} == {logging.ERROR}
        back = client.get("/readyz")
        assert back.status_code == 200 and back.json()["audit_store"] == "ok"
        assert any(e["event"] == "audit_writable_again" for _, e in service_log.events)


def test_the_service_signs_checkpoints_only_when_the_head_moved(
    tmp_path: Path, service_log: Lines
) -> None:
    settings = settings_for(tmp_path, checkpoint_seconds=0.1)
    create_checkpoint_key(settings.checkpoint_key_file)
    store = AuditStore(settings.audit_url)
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, audit=store))

    async def run_for(seconds: float) -> None:
        task = asyncio.create_task(checkpoint_audit(app, every_seconds=0.05))  # type: ignore[arg-type]
        await asyncio.sleep(seconds)
        task.cancel()

    try:
        store.record([decision(1)])
        asyncio.run(run_for(0.6))
        store.record([decision(2), decision(3)])
        asyncio.run(run_for(0.6))
        logged = [e for _, e in service_log.events if e["event"] == "audit_checkpoint"]
        assert [e["seq"] for e in logged] == [1, 3]  # once per head, not once per round
        signer = load_signer(settings.checkpoint_key_file)
        assert {e["key_id"] for e in logged} == {signer.key_id}
        from audit.checkpoints import Verifier

        result = verify_chain(store.engine, Verifier(signer.public))
        assert result.intact and result.checkpoints == 2
    finally:
        store.close()


def test_a_missing_checkpoint_key_is_an_error_line(tmp_path: Path, service_log: Lines) -> None:
    settings = settings_for(tmp_path, checkpoint_seconds=0.1)
    store = AuditStore(settings.audit_url)
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, audit=store))

    async def run_for(seconds: float) -> None:
        task = asyncio.create_task(checkpoint_audit(app, every_seconds=0.05))  # type: ignore[arg-type]
        await asyncio.sleep(seconds)
        task.cancel()

    try:
        store.record([decision(1)])
        asyncio.run(run_for(0.3))
    finally:
        store.close()
    (level, event), *_ = [(lv, e) for lv, e in service_log.events if e["event"].startswith("audit")]
    assert level == logging.ERROR and event["event"] == "audit_checkpoint_key_unusable"
    assert "checkpoint.key" in event["error"]
