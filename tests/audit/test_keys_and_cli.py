"""The checkpoint key (owner-only whatever the umask, refused when others may read it) and
`kykytutka audit verify`: exit 0 with the count, 1 naming the row, 2 naming the option."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from audit.checkpoints import (
    CheckpointKeyError,
    create_checkpoint_key,
    key_beside_store,
    load_signer,
    load_verifier,
    public_key_file,
)
from audit.store import AuditStore
from kykytutka.cli import app
from serving.background import checkpoint_audit
from serving.settings import ServiceSettings
from tests.audit.conftest import execute, fill

pytestmark = [pytest.mark.code]


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_checkpoint_key_is_owner_only_whatever_the_umask(
    tmp_path: Path, loose_umask: None
) -> None:
    key = tmp_path / "state" / "checkpoint.key"
    assert create_checkpoint_key(key) is True
    assert mode(key) == 0o600
    assert public_key_file(key).name == "checkpoint.key.pub"
    before = key.read_bytes()
    assert create_checkpoint_key(key) is False and key.read_bytes() == before  # kept
    signer = load_signer(key)
    assert load_verifier(public_key_file(key)).key_id == signer.key_id
    assert load_verifier(key).key_id == signer.key_id  # the private key's public half
    os.umask(0)
    other = tmp_path / "other.key"
    create_checkpoint_key(other)
    assert mode(other) == 0o600


def test_a_key_others_may_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "checkpoint.key"
    create_checkpoint_key(key)
    key.chmod(0o640)
    with pytest.raises(CheckpointKeyError, match=r"readable by others.*chmod 600"):
        load_signer(key)
    with pytest.raises(CheckpointKeyError, match="No such file"):
        load_signer(tmp_path / "missing.key")
    (tmp_path / "junk.pub").write_text("not a key")
    with pytest.raises(CheckpointKeyError, match="not a PEM public key"):
        load_verifier(tmp_path / "junk.pub")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", *args])
    return result.exit_code, result.output


def test_verify_says_intact_with_the_count(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KYKYTUTKA_CHECKPOINT_KEY_FILE", str(tmp_path / "none.key"))
    key = tmp_path / "checkpoint.key"
    create_checkpoint_key(key)
    store = AuditStore(store_url)
    try:
        fill(store, 3)
        store.sign_checkpoint(load_signer(key))
    finally:
        store.close()
    code, output = run("--url", store_url, "--public-key", str(public_key_file(key)))
    assert code == 0, output
    assert "audit chain intact: 9 rows (decisions 3, feedback 3, outcomes 3); head seq 9" in output
    assert "1 checkpoints hold, signatures verified" in output
    code, output = run("--url", store_url)
    assert code == 0 and "signatures NOT checked" in output
    # Without an option, the service's own key (KYKYTUTKA_CHECKPOINT_KEY_FILE) is used.
    monkeypatch.setenv("KYKYTUTKA_CHECKPOINT_KEY_FILE", str(key))
    code, output = run("--url", store_url)
    assert code == 0 and "signatures verified" in output, output


def test_verify_names_the_first_tampered_row_and_exits_1(store_url: str) -> None:
    store = AuditStore(store_url)
    try:
        fill(store, 3)
    finally:
        store.close()
    execute(store_url, "UPDATE outcomes SET support_level = 'none' WHERE seq = 6")
    execute(store_url, "DELETE FROM decisions WHERE seq = 7")
    code, output = run("--url", store_url)
    assert code == 1
    assert "audit chain BROKEN at outcomes id=6 (seq 6): changed" in output
    assert "5 rows verified before it" in output


def test_verify_usage_errors_name_the_option(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert run("--url", missing) == (
        2,
        f"kykytutka audit verify: --url: no audit store at {missing}\n",
    )
    code, output = run("--url", "not a url")
    assert code == 2 and "--url: not a database URL" in output
    code, output = run("--url", "mysql://root@127.0.0.1/x")
    assert code == 2 and "--url: mysql://root@127.0.0.1/x: use sqlite" in output
    code, output = run("--url", "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x")
    assert code == 2 and "--url: cannot read" in output and "s3cret" not in output
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.close()
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    code, output = run("--url", url, "--public-key", str(tmp_path / "none.pub"))
    assert code == 2 and "--public-key:" in output and "No such file" in output
    code, output = run("--url", url, "--checkpoint-key-file", str(tmp_path / "none.key"))
    assert code == 2 and "--checkpoint-key-file:" in output
    code, output = run("--url", url, "--public-key", "a", "--checkpoint-key-file", "b")
    assert code == 2 and "give one of them" in output


# -- the key beside the store ----------------------------------------------------------------------


def test_a_key_beside_the_sqlite_store_is_recognised(tmp_path: Path) -> None:
    database = tmp_path / "audit.db"
    assert key_beside_store(tmp_path / "checkpoint.key", f"sqlite:///{database}") == database
    assert key_beside_store(tmp_path / "keys" / "checkpoint.key", f"sqlite:///{database}") is None
    assert key_beside_store(tmp_path / "k", "postgresql+psycopg://u@127.0.0.1/a") is None
    assert key_beside_store(tmp_path / "k", "sqlite://") is None  # in memory
    assert key_beside_store(tmp_path / "k", "not a url") is None
    # the defaults, relative to the working directory
    beside = key_beside_store(Path(".kykytutka/checkpoint.key"), "sqlite:///.kykytutka/audit.db")
    assert beside == Path(".kykytutka/audit.db")


def started_service_warnings(tmp_path: Path, key: Path) -> list[dict[str, Any]]:
    """The warning lines of the checkpoint task of a service starting with the key at ``key``
    and its SQLite store in ``tmp_path``."""
    create_checkpoint_key(key)
    settings = ServiceSettings(
        pseudonym_key=secrets.token_urlsafe(48),
        audit_url=f"sqlite:///{tmp_path / 'audit.db'}",
        checkpoint_key_file=key,
        checkpoint_seconds=60,
    )
    store = AuditStore(settings.audit_url)
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, audit=store))
    lines: list[dict[str, Any]] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: lines.append(json.loads(record.getMessage()))  # type: ignore[method-assign]
    logger = logging.getLogger("kykytutka.serving")
    logger.addHandler(handler)

    async def start() -> None:
        task = asyncio.create_task(checkpoint_audit(app, every_seconds=0.05))  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        task.cancel()

    try:
        asyncio.run(start())
    finally:
        logger.removeHandler(handler)
        store.close()
    return lines


def test_the_service_warns_once_when_the_key_shares_the_stores_folder(tmp_path: Path) -> None:
    key = tmp_path / "checkpoint.key"
    (warning,) = started_service_warnings(tmp_path, key)
    assert warning["event"] == "audit_checkpoint_key_beside_store"
    assert warning["key_file"] == str(key) and warning["audit_db"] == str(tmp_path / "audit.db")
    assert "in production keep the checkpoint key apart from the audit store" in warning["advice"]


def test_no_warning_when_the_key_is_kept_apart(tmp_path: Path) -> None:
    assert started_service_warnings(tmp_path, tmp_path / "secrets" / "checkpoint.key") == []


def test_the_secrets_help_says_production_keeps_the_key_elsewhere() -> None:
    result = CliRunner().invoke(app, ["secrets", "--help"])
    text = " ".join(result.output.replace("│", " ").split())  # the words, without the box
    assert result.exit_code == 0
    assert "in production keep it elsewhere (a separate mount or a secret store)" in text
