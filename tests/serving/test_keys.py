"""API keys and secrets: owner-only files whatever the umask, the key file read again when it
changes (a new key works at once, a revoked one is refused without a restart, a broken file keeps
the keys), and the per-key rate limit (429 with Retry-After)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import serving.security as security
from kykytutka.cli import app as cli
from serving.app import create_app
from serving.ratelimit import RateLimiter, retry_after
from serving.security import KeyRing, Role, create_key, revoke_keys, write_private
from serving.settings import ServiceSettings
from tests.serving.test_transport import running_service

pytestmark = [pytest.mark.code]


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class Lines(logging.Handler):
    """The service logger's lines (it does not propagate to pytest's handlers)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append({"level": record.levelname, **json.loads(record.getMessage())})


@pytest.fixture
def service_lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("kykytutka.serving")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


# -- owner-only files ------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o277])
def test_the_key_file_is_owner_only_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "state" / "api-keys.json"
    old = os.umask(umask)
    try:
        create_key(path, "first", Role.AUDITOR)
        assert mode(path) == 0o600
        create_key(path, "second", Role.BOOKING_SYSTEM)  # rewritten: still owner-only
        assert mode(path) == 0o600
    finally:
        os.umask(old)
    assert [e["name"] for e in json.loads(path.read_text())] == ["first", "second"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["api-keys.json"]  # no temp left


def test_a_file_written_private_replaces_the_old_one_whole(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    inode = path.stat().st_ino
    write_private(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o600
    assert path.stat().st_ino != inode  # a new file renamed over the old: never half written


def test_secrets_writes_owner_only_whatever_the_umask(tmp_path: Path, umask_022: None) -> None:
    out = tmp_path / "state" / "service.env"
    signing = tmp_path / "apart" / "checkpoint.key"
    command = ["secrets", "--out", str(out), "--checkpoint-key", str(signing)]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600 and mode(signing) == 0o600
    assert out.read_text().startswith("KYKYTUTKA_PSEUDONYM_KEY=")
    kept = out.read_text()
    out.chmod(0o644)  # made readable by others meanwhile: kept, and made owner-only again
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0 and "kept" in result.output
    assert out.read_text() == kept and mode(out) == 0o600


def test_apikey_creates_and_revokes(tmp_path: Path, umask_022: None) -> None:
    keys = tmp_path / "keys.json"
    env = {"KYKYTUTKA_API_KEYS_FILE": str(keys)}
    created = CliRunner().invoke(
        cli, ["apikey", "--name", "ehr", "--role", "booking-system"], env=env
    )
    assert created.exit_code == 0 and created.output.startswith("kyk_")
    assert mode(keys) == 0o600
    revoked = CliRunner().invoke(cli, ["apikey", "--name", "ehr", "--revoke"], env=env)
    assert revoked.exit_code == 0 and json.loads(keys.read_text()) == []
    again = CliRunner().invoke(cli, ["apikey", "--name", "ehr", "--revoke"], env=env)
    assert again.exit_code == 1
    assert CliRunner().invoke(cli, ["apikey", "--name", "x"], env=env).exit_code == 2


# -- the key ring read again -----------------------------------------------------------------------


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "KEY_FILE_CHECK_SECONDS", 0.05)


def test_a_new_key_works_at_once(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    old = create_key(path, "old", Role.AUDITOR)
    ring = KeyRing.load(path)
    new = create_key(path, "new", Role.BOOKING_SYSTEM)
    found = ring.identify(new)  # no wait: an unknown key looks at the file at once
    assert found is not None and found.name == "new" and found.role is Role.BOOKING_SYSTEM
    assert ring.identify(old) is not None


def test_a_revoked_key_is_refused_after_the_next_check(tmp_path: Path, quick_checks: None) -> None:
    path = tmp_path / "keys.json"
    key = create_key(path, "leaving", Role.AUDITOR)
    ring = KeyRing.load(path)
    assert ring.identify(key) is not None
    assert revoke_keys(path, "leaving") == 1
    time.sleep(0.06)
    assert ring.identify(key) is None


@pytest.mark.parametrize("damage", ["broken", "missing", "directory", "wrong shape"])
def test_a_damaged_key_file_keeps_the_keys_and_says_so_once(
    tmp_path: Path, quick_checks: None, service_lines: Lines, damage: str
) -> None:
    path = tmp_path / "keys.json"
    key = create_key(path, "kept", Role.AUDITOR)
    ring = KeyRing.load(path)
    good = path.read_text()
    path.unlink()
    if damage == "broken":
        path.write_text(good[:-10])
    elif damage == "directory":
        path.mkdir()
    elif damage == "wrong shape":
        path.write_text(json.dumps([{"name": "x", "role": "admin", "sha256": "0" * 64}]))
    for _ in range(3):
        time.sleep(0.06)
        found = ring.identify(key)
        assert found is not None and found.name == "kept"
    errors = [e for e in service_lines.events if e["event"] == "api_keys_unreadable"]
    assert len(errors) == 1 and errors[0]["level"] == "ERROR" and errors[0]["kept"] == 1
    if damage == "directory":
        path.rmdir()
    elif path.exists():
        path.unlink()
    new = create_key(path, "mended", Role.AUDITOR)  # mended: read again
    assert ring.identify(new) is not None
    time.sleep(0.06)
    assert ring.identify(key) is None  # the mended file no longer holds it


def test_a_broken_key_file_at_start_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("[{")
    with pytest.raises(security.KeyFileError):
        KeyRing.load(path)


def test_identifying_a_key_stays_cheap(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys = [create_key(path, f"k{n}", Role.BOOKING_SYSTEM) for n in range(20)]
    ring = KeyRing.load(path)
    calls = 20_000
    started = time.perf_counter()
    for n in range(calls):
        ring.identify(keys[n % 20])
    per_call = (time.perf_counter() - started) / calls * 1e6
    print(f"KeyRing.identify: {per_call:.1f} µs a call (20 keys)")
    assert per_call < 100


# -- the rate limit --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(0.5)
    assert limiter.wait("b") == 0.0  # every key its own bucket
    clock.now += 0.5
    assert limiter.wait("a") == 0.0
    assert limiter.wait("a") > 0
    clock.now += 60  # a long pause refills only up to the burst
    assert [limiter.wait("a") for _ in range(4)][-1] > 0


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(s) for s in (0.001, 0.5, 1.0, 1.2, 7.9)] == ["1", "1", "1", "2", "8"]


def test_a_rate_check_costs_under_a_few_microseconds() -> None:
    limiter = RateLimiter(rate=1e9, burst=10**9)
    names = [f"key-{n}" for n in range(50)]
    calls = 200_000
    started = time.perf_counter()
    for n in range(calls):
        limiter.wait(names[n % 50])
    per_call = (time.perf_counter() - started) / calls * 1e6
    print(f"RateLimiter.wait: {per_call:.2f} µs a call")
    assert per_call < 5


@pytest.fixture
def own_tracking() -> Iterator[None]:
    """The app's lifespan points MLflow (a process-wide setting) at this test's empty store: put
    back what the session's other tests use."""
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)


def _client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **limits: float) -> TestClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    settings = ServiceSettings(
        pseudonym_key=secrets.token_urlsafe(48),
        api_keys_file=tmp_path / "keys.json",
        audit_url=f"sqlite:///{tmp_path / 'audit.db'}",
        model_cache_dir=tmp_path / "cache",
        model_poll_seconds=0,
        **limits,  # type: ignore[arg-type]
    )
    return TestClient(create_app(settings))


def test_past_its_rate_a_key_is_answered_429_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_tracking: None
) -> None:
    auditor = create_key(tmp_path / "keys.json", "auditor", Role.AUDITOR)
    other = create_key(tmp_path / "keys.json", "other", Role.AUDITOR)
    path = f"/v1/assessments/{uuid.uuid4()}"
    with _client(tmp_path, monkeypatch, rate_limit_per_second=0.5, rate_limit_burst=2) as client:
        answers = [client.get(path, headers={"X-API-Key": auditor}) for _ in range(3)]
        assert [a.status_code for a in answers] == [404, 404, 429]
        refused = answers[-1]
        assert refused.headers["Retry-After"] == "2"
        assert set(refused.json()) == {"detail"} and "rate limit" in refused.json()["detail"]
        assert client.get(path, headers={"X-API-Key": other}).status_code == 404
        # An unknown key is refused as unknown, never counted against a known one.
        assert client.get(path, headers={"X-API-Key": "kyk_nobody"}).status_code == 401


def test_a_rate_of_zero_turns_the_limit_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_tracking: None
) -> None:
    auditor = create_key(tmp_path / "keys.json", "auditor", Role.AUDITOR)
    path = f"/v1/assessments/{uuid.uuid4()}"
    with _client(tmp_path, monkeypatch, rate_limit_per_second=0, rate_limit_burst=1) as client:
        statuses = {client.get(path, headers={"X-API-Key": auditor}).status_code for _ in range(20)}
    assert statuses == {404}


# -- over a running service ------------------------------------------------------------------------


@pytest.mark.slow  # a running service
def test_a_running_service_takes_new_keys_and_drops_revoked_ones_without_a_restart(
    tmp_path: Path,
) -> None:
    import urllib.error
    import urllib.request

    def status(port: int, key: str) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/assessments/{uuid.uuid4()}", headers={"X-API-Key": key}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    # One worker: with two, the second waits for the first's model loading and may get no request
    # before the file breaks below, keeping the keys it read at start (what the test asserts).
    with running_service(tmp_path, workers=1) as service:
        new = create_key(service.keys_file, "added-later", Role.AUDITOR)
        assert {status(service.port, new) for _ in range(6)} == {404}
        old = service.keys["auditor"]
        assert status(service.port, old) == 404
        env = {"KYKYTUTKA_API_KEYS_FILE": str(service.keys_file)}
        result = CliRunner().invoke(cli, ["apikey", "--name", "test-auditor", "--revoke"], env=env)
        assert result.exit_code == 0, result.output
        time.sleep(security.KEY_FILE_CHECK_SECONDS + 0.2)
        assert {status(service.port, old) for _ in range(6)} == {401}
        # A broken file: the keys stay, an error is logged.
        service.keys_file.write_text("[{")
        time.sleep(security.KEY_FILE_CHECK_SECONDS + 0.2)
        assert {status(service.port, new) for _ in range(6)} == {404}
        time.sleep(0.2)
    lines = [json.loads(x) for x in service.log.read_text().splitlines() if x.startswith("{")]
    unreadable = [x for x in lines if x.get("event") == "api_keys_unreadable"]
    assert unreadable and all(x["level"] == "error" for x in unreadable)
