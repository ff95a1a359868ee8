"""The local model cache holds pickles the service unpickles: it is made owner-only whatever the
umask, one that another user could write is not used (the registry serves, an error says why),
and workers load in turns, so two starting on a new MLflow store both get their model."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest

import serving.models as models
from serving.logs import SERVICE_LOGGER, JsonLines
from serving.models import LOCK_FILE, ModelNotAvailable, load_champion, private_cache

pytestmark = [pytest.mark.code]

CHAMPION = "models:/kykytutka@champion"


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def said() -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """The service's log lines while the test runs, as written: (level, fields)."""
    lines: list[tuple[int, dict[str, Any]]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append((record.levelno, json.loads(JsonLines().format(record))))

    logger = logging.getLogger(SERVICE_LOGGER)
    handler, level = Keep(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A registry that answers version 3 (``version`` = None: that does not answer), whose
    downloads and loads are recorded instead of done; the tracking store is never opened."""
    state: dict[str, Any] = {"version": "3", "opened": 0, "downloads": [], "loads": []}

    def download(artifact_uri: str, dst_path: str) -> str:
        state["downloads"].append(artifact_uri)
        (Path(dst_path) / "MLmodel").write_text("flavors: {}\n")
        return dst_path

    def opened() -> None:
        state["opened"] += 1

    monkeypatch.setattr(models, "use_tracking", opened)
    monkeypatch.setattr(models, "resolve_version", lambda uri: state["version"])
    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", download)
    monkeypatch.setattr(models, "load_model", lambda where: state["loads"].append(where))
    return state


def test_the_cache_and_each_copy_are_owner_only_whatever_the_umask(
    tmp_path: Path, registry: dict[str, Any]
) -> None:
    cache = tmp_path / "state" / "models"
    with umask(0):
        loaded = load_champion(CHAMPION, cache)
    assert (loaded.source, loaded.version) == ("registry", "3")
    assert mode(cache) == 0o700 and mode(cache / "kykytutka-v3") == 0o700
    assert mode(cache / LOCK_FILE) == 0o600
    assert registry["loads"] == [str(cache / "kykytutka-v3")]
    assert json.loads((cache / "current.json").read_text()) == {"name": "kykytutka", "version": "3"}
    with umask(0o022):  # a second load finds the copy: no second download
        load_champion(CHAMPION, cache)
    assert registry["downloads"] == ["models:/kykytutka/3"] and registry["opened"] == 2
    registry["version"] = None  # the registry down: the copy serves
    assert load_champion(CHAMPION, cache).source == "local copy"


@pytest.mark.parametrize("opened", [0o777, 0o770, 0o757])
def test_a_cache_others_may_write_is_not_used_and_the_registry_serves(
    tmp_path: Path,
    registry: dict[str, Any],
    said: list[tuple[int, dict[str, Any]]],
    opened: int,
) -> None:
    cache = tmp_path / "models"
    load_champion(CHAMPION, cache)  # a good copy, and current.json naming it
    cache.chmod(opened)  # then someone opens the folder to others (or it was made so)
    before = sorted(p.name for p in cache.iterdir())
    loaded = load_champion(CHAMPION, cache)
    assert (loaded.source, registry["loads"][-1]) == ("registry", "models:/kykytutka/3")
    assert sorted(p.name for p in cache.iterdir()) == before  # nothing written there either
    errors = [fields for level, fields in said if level == logging.ERROR]
    assert errors and errors[0]["event"] == "model_cache_not_used"
    assert errors[0]["folder"] == str(cache) and "writable" in errors[0]["problem"]
    registry["version"] = None  # and with the registry down, its copy is not loaded either
    with pytest.raises(ModelNotAvailable, match="not used"):
        load_champion(CHAMPION, cache)
    assert registry["loads"][-1] == "models:/kykytutka/3"


def test_a_copy_others_may_write_is_not_loaded(
    tmp_path: Path, registry: dict[str, Any], said: list[tuple[int, dict[str, Any]]]
) -> None:
    cache = tmp_path / "models"
    load_champion(CHAMPION, cache)
    (cache / "kykytutka-v3").chmod(0o777)  # a copy left open, say from before the cache was fixed
    assert load_champion(CHAMPION, cache).source == "registry"
    assert registry["loads"][-1] == "models:/kykytutka/3"
    assert [f["folder"] for level, f in said if level == logging.ERROR] == [
        str(cache / "kykytutka-v3")
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_cache_of_another_user_is_not_used(
    tmp_path: Path, registry: dict[str, Any], said: list[tuple[int, dict[str, Any]]]
) -> None:
    cache = tmp_path / "models"
    cache.mkdir(mode=0o700)
    os.chown(cache, 65534, 65534)
    assert private_cache(cache) is None
    assert "owned by uid 65534" in said[-1][1]["problem"]
    assert load_champion(CHAMPION, cache).source == "registry"


def test_a_file_where_the_cache_should_be_is_not_used(
    tmp_path: Path, said: list[tuple[int, dict[str, Any]]]
) -> None:
    (tmp_path / "models").write_text("not a folder")
    assert private_cache(tmp_path / "models") is None
    assert said[-1][1]["problem"] == "not a directory"


def test_a_worker_waits_for_the_one_loading(
    tmp_path: Path, registry: dict[str, Any], said: list[tuple[int, dict[str, Any]]]
) -> None:
    cache = tmp_path / "models"
    private_cache(cache)
    held = os.open(cache / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)  # another worker, loading
    done: list[str] = []
    waiting = threading.Thread(target=lambda: done.append(load_champion(CHAMPION, cache).source))
    waiting.start()
    time.sleep(0.5)
    # Not even the tracking store was opened: opening a new one makes its tables.
    assert not done and registry["opened"] == 0
    assert any(fields["event"] == "model_load_waiting" for _, fields in said)
    os.close(held)
    waiting.join(timeout=10)
    assert done == ["registry"] and registry["opened"] == 1


# -- two worker processes at once ------------------------------------------------------------------

#: a worker's start: everything imported, then wait for the go, then load the champion. MLflow's
#: stores are imported beforehand too, so that both workers reach a new store within milliseconds
#: of each other: without the turn, one of them then fails to make its tables nearly every time.
WORKER = """
import json, sys, time
from pathlib import Path
import mlflow.store.model_registry.sqlalchemy_store, mlflow.store.tracking.sqlalchemy_store
from serving.logs import configure_logging
from serving.models import load_champion
configure_logging("info")
cache, ready, go = (Path(a) for a in sys.argv[1:4])
ready.touch()
while not go.exists():
    time.sleep(0.005)
loaded = load_champion("models:/kykytutka@champion", cache)
print(json.dumps({"source": loaded.source, "version": loaded.version}))
"""


def _two_workers(folder: Path, tracking: str, cache: Path) -> list[tuple[dict[str, str], str]]:
    """Two processes loading the champion at the same moment: each one's answer and log."""
    go = folder / f"go-{time.monotonic_ns()}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "MLFLOW_DISABLE_TELEMETRY": "true"}
    started = []
    for number in range(2):
        ready = folder / f"{go.name}-ready-{number}"
        command = [sys.executable, "-c", WORKER, str(cache), str(ready), str(go)]
        process = subprocess.Popen(
            command, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        started.append((process, ready))
    deadline = time.monotonic() + 120
    while not all(ready.exists() for _, ready in started) and time.monotonic() < deadline:
        assert all(process.poll() is None for process, _ in started)
        time.sleep(0.05)
    go.touch()
    answers = []
    for process, _ in started:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode(errors="replace")[-3000:]
        answers.append((json.loads(out.decode().strip().splitlines()[-1]), err.decode()))
    return answers


@pytest.mark.slow  # trains a champion; each worker imports the stack
def test_two_workers_on_a_new_tracking_store_both_load_the_champion(
    champion_project: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    # At once on the project's store with no copy yet: one downloads, the other uses its copy.
    first = _two_workers(tmp_path, f"sqlite:///{champion_project / 'mlflow.db'}", cache)
    assert [answer["source"] for answer, _ in first] == ["registry", "registry"]
    version = first[0][0]["version"]
    assert [p.name for p in cache.iterdir() if ".partial-" in p.name] == []
    # At once on a store that does not exist yet, and on one that exists but was never made:
    # each would make its tables; one worker does, the other waits, and both serve the copy.
    (tmp_path / "empty.db").touch()
    for store in ("new.db", "empty.db"):
        both = _two_workers(tmp_path, f"sqlite:///{tmp_path / store}", cache)
        assert [answer for answer, _ in both] == [{"source": "local copy", "version": version}] * 2
        for _, log in both:
            assert "tracking_store_unavailable" not in log, log[-3000:]
