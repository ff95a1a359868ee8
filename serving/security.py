"""API keys with roles. Keys are random tokens shown once; only their SHA-256 is stored.

The key file is read again when it changes (``KeyRing``): a new key works at once and a revoked
one is refused within ``KEY_FILE_CHECK_SECONDS``, without a restart. Files holding keys or secrets
are written owner-only (0600) whatever the umask, and atomically (``write_private``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from serving.logs import log_event

#: how often a known key's request looks whether the key file changed (an unknown key looks at
#: once, so that a key just added works on its first request)
KEY_FILE_CHECK_SECONDS = 1.0


class Role(StrEnum):
    BOOKING_SYSTEM = "booking-system"  # may assess
    AUDITOR = "auditor"  # may read decisions
    COORDINATOR = "coordinator"  # may record outcomes
    FRONT_DESK = "front-desk"  # staff pages: assess a booking, accept or override the advice


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role


class KeyFileError(ValueError):
    """The key file cannot be read or is not a list of {name, role, sha256}."""


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    """The known keys by hash; with a ``path``, read again when the file there changes (its
    inode, size, modification or change time): at most every ``KEY_FILE_CHECK_SECONDS`` while
    keys are known, at once for an unknown key. A file that becomes unreadable, broken or
    missing keeps the keys read before and logs an error (once for each change of the file)."""

    def __init__(
        self,
        entries: list[dict[str, str]],
        path: Path | None = None,
        signature: tuple[int, ...] | None = None,
    ) -> None:
        self._by_hash = _parse(entries)
        self._path = path
        self._signature = signature  # of the file the entries were read from
        self._next_check = time.monotonic() + KEY_FILE_CHECK_SECONDS

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        """The keys in ``path`` (none if it does not exist yet); ``KeyFileError`` if it cannot be
        read: the service does not start on a broken key file."""
        signature = _signature(path)  # before reading: a change meanwhile is seen next time
        if signature is None:
            return cls([], path)
        return cls(_read(path), path, signature)

    def identify(self, key: str) -> Caller | None:
        if self._path is not None and time.monotonic() >= self._next_check:
            self.refresh()
        digest = hash_key(key)
        found = self._find(digest)
        if found is None and self._path is not None and self.refresh():
            found = self._find(digest)
        return found

    def by_digest(self, digest: str) -> Caller | None:
        """The holder of the key with this SHA-256 (a signed-in session's), if it still exists."""
        if self._path is not None and time.monotonic() >= self._next_check:
            self.refresh()
        return self._find(digest)

    def names(self, *roles: Role) -> list[str]:
        """The names of the keys of ``roles``, sorted, each once."""
        return sorted({c.name for c in self._by_hash.values() if c.role in roles})

    def refresh(self) -> bool:
        """Read the key file again if it changed; whether the keys changed."""
        assert self._path is not None
        self._next_check = time.monotonic() + KEY_FILE_CHECK_SECONDS
        signature = _signature(self._path)
        if signature == self._signature:
            return False
        self._signature = signature  # a broken file is reported once, until it changes again
        try:
            if signature is None:
                raise KeyFileError("the key file is missing")
            by_hash = _parse(_read(self._path))
        except KeyFileError as error:
            log_event(
                "api_keys_unreadable",
                logging.ERROR,
                file=str(self._path),
                problem=str(error),
                kept=len(self._by_hash),
            )
            return False
        self._by_hash = by_hash
        log_event("api_keys_reloaded", keys=len(by_hash))
        return True

    def _find(self, digest: str) -> Caller | None:
        for known, caller in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return caller
        return None

    def __len__(self) -> int:
        return len(self._by_hash)


def create_key(path: Path, name: str, role: Role) -> str:
    """Add a new key for ``name`` with ``role`` to the key file; return the key (shown once)."""
    key = "kyk_" + secrets.token_urlsafe(32)
    entries = _read(path) if path.is_file() else []
    entries.append({"name": name, "role": role.value, "sha256": hash_key(key)})
    write_private(path, json.dumps(entries, indent=2))
    return key


def revoke_keys(path: Path, name: str) -> int:
    """Remove every key of ``name`` from the key file; how many there were."""
    entries = _read(path) if path.is_file() else []
    kept = [entry for entry in entries if entry.get("name") != name]
    if len(kept) != len(entries):
        write_private(path, json.dumps(kept, indent=2))
    return len(entries) - len(kept)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable and writable by its owner only (0600), whatever the
    umask: into a new file made 0600 beside it, synced, then renamed over ``path``, so that a
    reader sees the old content or the new, never a part, and never a moment of wider access."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)  # mkstemp's 0600 is masked by the umask; this is not
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFileError(f"cannot read the key file: {type(error).__name__}") from None
    except ValueError:
        raise KeyFileError("the key file is not JSON") from None
    if not isinstance(entries, list):
        raise KeyFileError("the key file is not a list of keys")
    return entries


def _parse(entries: list[dict[str, Any]]) -> dict[str, Caller]:
    by_hash = {}
    for number, entry in enumerate(entries):
        try:
            digest, name, role = entry["sha256"], entry["name"], Role(entry["role"])
        except (KeyError, TypeError, ValueError):
            raise KeyFileError(f"key {number} needs a name, a known role and a sha256") from None
        if not (isinstance(name, str) and isinstance(digest, str) and len(digest) == 64):
            raise KeyFileError(f"key {number} needs a name, a known role and a sha256")
        by_hash[digest] = Caller(name, role)
    return by_hash


def _signature(path: Path) -> tuple[int, ...] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)
