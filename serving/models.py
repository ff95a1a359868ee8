"""Loading the champion: from the registry, with a local copy for when the tracking server is down,
and swapped in place when the alias moves (requests in flight keep the model they started with).

The local copies are pickles the service unpickles: whoever can write the cache dir can run code
in the service. So the dir and each copy's folder are made owner-only (0700, whatever the umask),
and a cache dir (or copy) that another user could write, or that is not the service user's, is
not used at all: an error-level log line names it, and the model comes from the registry as if
there were no cache (with the registry down too, no model).

Workers that start together take turns (an advisory lock on ``LOCK_FILE`` in the cache dir): the
first opens the tracking store, which creates a new MLflow store's tables (two processes creating
them at once fail), and downloads the copy; the next waits, then finds both. Reading the copy
(the slow part, unpickling) is left out of the turn. An unusable cache is not touched, its lock
neither: workers then load without taking turns.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow

from models.packaged import KykytutkaModel
from models.registry import (
    MODEL_NAME,
    ModelNotAvailable,
    load_model,
    parse_alias,
    resolve_version,
    use_tracking,
)
from serving.logs import log_event

__all__ = ["LoadedModel", "ModelNotAvailable", "load_champion", "private_cache", "resolve_version"]

#: the cache dir's and each copy's mode: only the service's user reads, writes or enters them
PRIVATE = 0o700
#: the file whose lock a worker holds while it loads (0600)
LOCK_FILE = ".loading.lock"
CURRENT = "current.json"


@dataclass(frozen=True)
class LoadedModel:
    model: KykytutkaModel
    name: str
    version: str
    source: str  # "registry" or "local copy"


def load_champion(model_uri: str, cache_dir: Path) -> LoadedModel:
    """The model behind ``model_uri``: downloaded into the cache, or the newest cached copy. The
    tracking store is opened here (``use_tracking``: MLFLOW_TRACKING_URI, else ./mlflow.db)."""
    cache = private_cache(cache_dir)
    with _turn(cache):  # the store opened, the version found and its copy made, in turns
        found = _find(model_uri, cache_dir, cache)
    model = load_model(found.where)  # a complete copy, only read: workers do it at once
    if found.source == "local copy":
        log_event("model_from_local_copy", logging.WARNING, version=found.version)
    elif cache is not None and found.copied:
        _point_at(cache, found.name, found.version)
    return LoadedModel(model, found.name, found.version, found.source)


@dataclass(frozen=True)
class _Found:
    where: str  # a copy's folder in the cache, or the registry's URI of the version
    name: str
    version: str
    source: str

    @property
    def copied(self) -> bool:
        return not self.where.startswith("models:/")


def _find(model_uri: str, cache_dir: Path, cache: Path | None) -> _Found:
    parsed = parse_alias(model_uri)
    name = parsed[0] if parsed else MODEL_NAME
    version = resolve_version(model_uri) if _tracking_opened() else None
    if version is not None:
        return _Found(_registry_copy(name, version, cache), name, version, "registry")
    return _local_copy(model_uri, cache_dir, cache)


def _registry_uri(name: str, version: str) -> str:
    return f"models:/{name}/{version}"


def private_cache(cache_dir: Path) -> Path | None:
    """``cache_dir``, made owner-only if it was not there; None, said at error level, when it
    cannot be made or someone besides the service's user could change what is in it."""
    try:
        _make_private(cache_dir)
    except OSError as exc:
        _not_used(cache_dir, f"cannot be created ({type(exc).__name__})")
        return None
    problem = unsafe(cache_dir)
    if problem is not None:
        _not_used(cache_dir, problem)
        return None
    return cache_dir


def unsafe(folder: Path) -> str | None:
    """Why a user besides the service's could change what is in ``folder``; None if none can."""
    try:
        found = folder.stat()  # a symbolic link is judged by where it leads
    except OSError as exc:
        return f"cannot be read ({type(exc).__name__})"
    if not stat.S_ISDIR(found.st_mode):
        return "not a directory"
    if found.st_uid != os.geteuid():
        return f"owned by uid {found.st_uid}, not by the service's user (uid {os.geteuid()})"
    if found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"group- or world-writable (mode {stat.S_IMODE(found.st_mode):o})"
    return None


def _make_private(folder: Path) -> None:
    """Create ``folder`` (and its missing parents) 0700 if it is not there; an existing one is
    left as it is (``unsafe`` judges it). mkdir's mode is narrowed by the umask, never widened,
    so the folder is never more open than 0700; chmod then makes it 0700 whatever the umask."""
    try:
        folder.mkdir(mode=PRIVATE, parents=True)
    except FileExistsError:
        return
    folder.chmod(PRIVATE)


def _not_used(folder: Path, problem: str) -> None:
    log_event(
        "model_cache_not_used",
        logging.ERROR,
        folder=str(folder),
        problem=problem,
        action="not loaded from nor written to (the model comes from the registry, if it "
        "answers); make it the service user's own, mode 0700",
    )


@contextlib.contextmanager
def _turn(cache: Path | None) -> Iterator[None]:
    """This process's turn to load: the lock on ``LOCK_FILE`` held until the block ends (or the
    process does, however it ends). No cache, no lock."""
    held = _lock_file(cache) if cache is not None else None
    try:
        if held is not None:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log_event("model_load_waiting", reason="another worker is loading the model")
                fcntl.flock(held, fcntl.LOCK_EX)
        yield
    finally:
        if held is not None:
            os.close(held)  # and with it the lock


def _lock_file(cache: Path) -> int | None:
    """The lock file, opened (0600, never through a symbolic link); None when it cannot be."""
    path = cache / LOCK_FILE
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        held = os.open(path, flags, 0o600)
    except OSError as exc:
        log_event(
            "model_lock_unavailable", logging.WARNING, file=str(path), error=type(exc).__name__
        )
        return None
    with contextlib.suppress(OSError):  # a file of another user: the lock works all the same
        os.fchmod(held, 0o600)
    return held


def _tracking_opened() -> bool:
    """Open the tracking store; False (the registry then counts as not answering) when it cannot
    be opened: a damaged store leaves the service its local copy, as a server that is down does."""
    try:
        use_tracking()
    except Exception as exc:  # MLflow's or the database driver's: the store is unusable
        log_event(
            "tracking_store_unavailable",
            logging.WARNING,
            error=f"{type(exc).__name__}: {_first_line(exc)}",
        )
        return False
    return True


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""


def _registry_copy(name: str, version: str, cache: Path | None) -> str:
    """Where to load version ``version`` from: its copy in the cache (downloaded first if it is
    not there), or the registry itself when there is no cache to trust (MLflow then downloads
    into a temporary folder of its own)."""
    if cache is None:
        return _registry_uri(name, version)
    target = cache / f"{name}-v{version}"
    if not (target / "MLmodel").is_file():
        _download(name, version, cache, target)
    problem = unsafe(target)
    if problem is None:
        return str(target)
    _not_used(target, problem)
    return _registry_uri(name, version)


def _download(name: str, version: str, cache: Path, target: Path) -> None:
    """The registry's copy of the version into ``target``: into a folder of this process first,
    renamed into place once complete (a worker killed halfway leaves no half copy behind)."""
    partial = cache / f".{name}-v{version}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    _make_private(partial)
    mlflow.artifacts.download_artifacts(
        artifact_uri=_registry_uri(name, version), dst_path=str(partial)
    )
    try:
        partial.rename(target)
    except OSError:  # a copy got there first (a worker without the lock: a cache it could not lock)
        shutil.rmtree(partial, ignore_errors=True)
    if not (target / "MLmodel").is_file():
        raise ModelNotAvailable(f"the local copy in {target} is incomplete")


def _point_at(cache: Path, name: str, version: str) -> None:
    """Name the copy to fall back on when the registry does not answer."""
    pointer = cache / f".current-{os.getpid()}.json"
    pointer.write_text(json.dumps({"name": name, "version": version}))
    pointer.replace(cache / CURRENT)  # atomic, whichever worker writes last


def _local_copy(model_uri: str, cache_dir: Path, cache: Path | None) -> _Found:
    """The copy ``current.json`` names, the registry not answering; ModelNotAvailable without
    one to trust."""
    known = _current(cache) if cache is not None else None
    if cache is not None and known is not None:
        target = cache / f"{known['name']}-v{known['version']}"
        problem = unsafe(target) if target.is_dir() else None
        if problem is None:  # a missing or damaged copy: load_model says so
            return _Found(str(target), known["name"], known["version"], "local copy")
        _not_used(target, problem)
    why = (
        "the local copies in it are not used (the log says why)"
        if cache is None or known is not None
        else "there is no local copy in it; train and promote a model first (`make demo`)"
    )
    raise ModelNotAvailable(
        f"cannot load {model_uri}: the registry does not answer, and of {cache_dir}: {why}"
    )


def _current(cache: Path) -> dict[str, str] | None:
    try:
        known = json.loads((cache / CURRENT).read_text())
        return {"name": str(known["name"]), "version": str(known["version"])}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log_event("model_cache_pointer_unreadable", logging.WARNING, file=str(cache / CURRENT))
        return None
