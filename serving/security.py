"""API keys with roles. Keys are random tokens shown once; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Role(StrEnum):
    BOOKING_SYSTEM = "booking-system"  # may assess
    AUDITOR = "auditor"  # may read decisions
    COORDINATOR = "coordinator"  # may record outcomes


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    def __init__(self, entries: list[dict[str, str]]) -> None:
        self._by_hash = {e["sha256"]: Caller(e["name"], Role(e["role"])) for e in entries}

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        if not path.is_file():
            return cls([])
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def identify(self, key: str) -> Caller | None:
        digest = hash_key(key)
        for known, caller in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return caller
        return None

    def __len__(self) -> int:
        return len(self._by_hash)


def create_key(path: Path, name: str, role: Role) -> str:
    """Add a new key for ``name`` with ``role`` to the key file; return the key (shown once)."""
    key = "kyk_" + secrets.token_urlsafe(32)
    entries = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    entries.append({"name": name, "role": role.value, "sha256": hash_key(key)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=2), encoding="utf-8")
    path.chmod(0o600)
    return key
