"""Signed checkpoints of the audit chain: its head (seq, hash, time) signed with a key kept apart.

Whoever can write the database can recompute the whole chain after changing a row, or cut its
tail and move the head back; what they cannot do without the key is sign the new head. So the
service signs the head now and then (``serving.background``), stores the checkpoint beside the
chain and writes it to its log as well (a copy outside the database), and ``kykytutka audit verify``
checks each checkpoint's signature and that the chain still holds each checkpointed (seq, hash).

Ed25519 (``cryptography``): the private key signs, in a file readable by its owner only (0600);
verifying needs only the public key, written beside it as ``<key file>.pub``, which an auditor may
keep anywhere. The signed message is the canonical JSON of
``{"hash": ..., "key_id": ..., "seq": ..., "signed_at": ...}``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.chain import canonical_json, utc

ALGORITHM = "ed25519"


class CheckpointKeyError(ValueError):
    """A checkpoint key file is missing, unreadable, not a key, or readable by others."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: str  # base64
    algorithm: str = ALGORITHM

    def message(self) -> bytes:
        return signed_message(self.seq, self.hash, self.signed_at, self.key_id)

    def as_log(self) -> dict[str, Any]:
        """The checkpoint as a log line's fields (the copy kept outside the database)."""
        return {
            "seq": self.seq,
            "hash": self.hash,
            "signed_at": utc(self.signed_at).isoformat(timespec="microseconds"),
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "signature": self.signature,
        }


def signed_message(seq: int, chain_hash: str, signed_at: datetime, key_id: str) -> bytes:
    when = utc(signed_at).isoformat(timespec="microseconds")
    content = {"hash": chain_hash, "key_id": key_id, "seq": seq, "signed_at": when}
    return canonical_json(content).encode()


def key_id(public: Ed25519PublicKey) -> str:
    """A short name of a public key: the first 16 hex digits of SHA-256 over its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)

    def sign(self, seq: int, chain_hash: str, signed_at: datetime) -> Checkpoint:
        signature = self._private.sign(signed_message(seq, chain_hash, signed_at, self.key_id))
        encoded = base64.b64encode(signature).decode()
        return Checkpoint(seq, chain_hash, utc(signed_at), self.key_id, encoded)


class Verifier:
    def __init__(self, public: Ed25519PublicKey) -> None:
        self.public = public
        self.key_id = key_id(public)

    def verifies(self, checkpoint: Checkpoint) -> bool:
        if checkpoint.algorithm != ALGORITHM or checkpoint.key_id != self.key_id:
            return False
        try:
            self.public.verify(base64.b64decode(checkpoint.signature), checkpoint.message())
        except (InvalidSignature, ValueError):
            return False
        return True


def public_key_file(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".pub")


def create_checkpoint_key(path: Path) -> bool:
    """Create the checkpoint signing key at ``path`` (owner-only, 0600, whatever the umask) and
    its public key beside it (``<path>.pub``). An existing key is kept: False; created: True."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, pem)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_key_file(path).write_bytes(public)
    return True


def load_signer(path: Path) -> Signer:
    """The signing key at ``path``; CheckpointKeyError if it is missing, not an Ed25519 private key,
    or readable by anyone but its owner."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointKeyError(f"{path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CheckpointKeyError(
            f"{path}: readable by others (mode {stat.S_IMODE(mode):04o}); chmod 600 {path}"
        )
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise CheckpointKeyError(f"{path}: not a PEM private key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise CheckpointKeyError(f"{path}: not an Ed25519 key")
    return Signer(private)


def load_verifier(path: Path) -> Verifier:
    """The public key at ``path`` (PEM), or the public half of a private key file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointKeyError(f"{path}: {exc.strerror or exc}") from None
    if b"PRIVATE KEY" in data:
        return Verifier(load_signer(path).public)
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise CheckpointKeyError(f"{path}: not a PEM public key") from None
    if not isinstance(public, Ed25519PublicKey):
        raise CheckpointKeyError(f"{path}: not an Ed25519 public key")
    return Verifier(public)
