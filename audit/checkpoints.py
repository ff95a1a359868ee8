"""Signed checkpoints of the audit chain: its head (seq, hash, time) signed with a key kept apart.

Whoever can write the database can recompute the whole chain after changing a row, or cut its
tail and move the head back; what they cannot do without the key is sign the new head. So the
service signs the head now and then (``serving.background``), stores the checkpoint beside the
chain and writes it to its log as well, and to an append-only copy file if one is set: copies
outside the database, for whoever can cut the tail of the chain can delete the checkpoints after
it too. ``kykytutka audit verify`` checks each checkpoint's signature and that the chain still
holds each checkpointed (seq, hash); with ``--checkpoints FILE`` the copies' as well.

Ed25519 (``cryptography``): the private key signs, in a file readable by its owner only (0600);
verifying needs only the public key, written beside it as ``<key file>.pub``, which an auditor may
keep anywhere. The signed message is the canonical JSON of
``{"hash": ..., "key_id": ..., "seq": ..., "signed_at": ...}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.chain import canonical_json, utc

ALGORITHM = "ed25519"
#: the event of the service's log line that holds a checkpoint; each line of a copy file has it too
COPY_EVENT = "audit_checkpoint"
#: the longest line read from a copy file: a checkpoint's is about 300 bytes, any log line far less
MAX_LINE_BYTES = 1 << 20
MAX_SEQ = 2**63 - 1  # the chain's seq is a BIGINT
_HASH = re.compile(r"[0-9a-f]{64}")


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


def key_beside_store(key_file: Path, audit_url: str) -> Path | None:
    """The SQLite database ``audit_url`` names if ``key_file`` lies in its directory, else None
    (PostgreSQL, an in-memory store, a key kept elsewhere). Whoever may write the store there
    may well read the key too, and then sign a chain they rewrote."""
    try:
        url = sa.engine.make_url(audit_url)
    except sa.exc.ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    database = Path(str(url.database))
    return database if database.resolve().parent == key_file.resolve().parent else None


# -- copies outside the store ----------------------------------------------------------------------


class CheckpointCopyError(ValueError):
    """A copy file that cannot be read: missing, not UTF-8, or a line that is not a checkpoint."""


@dataclass(frozen=True)
class CheckpointCopy:
    """A checkpoint read from a copy file, with where it was read (to name it in a report)."""

    source: str
    line: int
    checkpoint: Checkpoint


def copy_line(checkpoint: Checkpoint) -> bytes:
    """A copy file's line: the fields of the service's log line (so one reader takes both)."""
    return (json.dumps({"event": COPY_EVENT, **checkpoint.as_log()}) + "\n").encode()


def append_copy(path: Path, checkpoint: Checkpoint) -> None:
    """Append ``checkpoint`` to the copy file at ``path``: one line in one write (O_APPEND, so
    workers appending at once never interleave), fsync'd. Created owner-only (0600)."""
    line = copy_line(checkpoint)
    created = True
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        created = False
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        if created:
            os.fchmod(descriptor, 0o600)  # whatever the umask
        if os.write(descriptor, line) != len(line):
            raise OSError(f"{path}: only part of a line was written")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    if created:  # the new file's name must survive a power loss as well as its line
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def read_copies(path: Path) -> Iterator[CheckpointCopy]:
    """The checkpoints of a copy file, in file order: the service's copy file, or its shipped
    log (lines of any other event are skipped). CheckpointCopyError names the file and line of
    the first line that is not JSON, or holds a checkpoint field of the wrong type or range."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CheckpointCopyError(f"{path}: {exc.strerror or exc}") from None
    with handle:
        number = 0
        while raw := _next_line(handle, path):
            number += 1
            where = f"{path} line {number}"
            if len(raw) > MAX_LINE_BYTES:
                _refuse(where, f"longer than {MAX_LINE_BYTES:,} bytes")
            fields = _copy_fields(raw, where)
            if fields is not None:
                yield CheckpointCopy(str(path), number, _checkpoint(fields, where))


def _next_line(handle: Any, path: Path) -> bytes:
    try:
        line: bytes = handle.readline(MAX_LINE_BYTES + 1)
    except OSError as exc:
        raise CheckpointCopyError(f"{path}: {exc.strerror or exc}") from None
    return line


def _copy_fields(raw: bytes, where: str) -> dict[str, Any] | None:
    """A line's JSON object; None for a blank line or a log line of another event."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(where, "not UTF-8 text")
    if not text.strip():
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except _NotANumber as exc:
        _refuse(where, str(exc))
    except ValueError:  # not JSON, or an integer of over 4,300 digits (Python's limit)
        _refuse(where, "not a JSON object")
    except RecursionError:  # arrays or objects nested thousands deep
        _refuse(where, "not a JSON object: nested too deeply")
    if not isinstance(value, dict):
        _refuse(where, f"not a JSON object: {_shown(value)}")
    if value.get("event", COPY_EVENT) != COPY_EVENT:
        return None  # another line of the service's log
    return value


def _checkpoint(fields: dict[str, Any], where: str) -> Checkpoint:
    seq = fields.get("seq")
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:  # bool is an int: not with type()
        _refuse(where, f"seq: {_shown(seq)} is not a whole number from 1 to {MAX_SEQ}")
    chain_hash = fields.get("hash")
    if not isinstance(chain_hash, str) or not _HASH.fullmatch(chain_hash):
        _refuse(where, f"hash: {_shown(chain_hash)} is not 64 lower-case hex digits")
    return Checkpoint(
        seq,
        chain_hash,
        _signed_at(fields.get("signed_at"), where),
        _text(fields, "key_id", where),
        _text(fields, "signature", where),
        _text(fields, "algorithm", where, ALGORITHM),
    )


def _signed_at(value: Any, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) and len(value) < 64 else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        _refuse(where, f"signed_at: {_shown(value)} is not an ISO 8601 time with its zone")
    try:
        utc(when)  # the signed message holds it in UTC: year 1 at +01:00 has no such time
    except OverflowError:
        _refuse(where, f"signed_at: {_shown(value)} is out of range in UTC")
    return when


def _text(fields: dict[str, Any], name: str, where: str, default: str | None = None) -> str:
    value = fields.get(name, default)
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        _refuse(where, f"{name}: {_shown(value)} is not a text of 1 to 200 characters")
    return value


class _NotANumber(ValueError):
    pass


def _no_constant(name: str) -> NoReturn:
    raise _NotANumber(f"{name} is not a number (Python's JSON takes it, JSON does not)")


def _shown(value: Any) -> str:
    """A value as a report shows it: its JSON, cut short (a line may be long)."""
    text = "missing" if value is None else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _refuse(where: str, what: str) -> NoReturn:
    raise CheckpointCopyError(f"{where}: {what}")
