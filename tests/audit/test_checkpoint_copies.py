"""Checkpoints copied outside the store (the log, and KYKYTUTKA_CHECKPOINT_COPY_FILE), and
`kykytutka audit verify --checkpoints FILE`: an intruder who cuts the chain's tail and deletes the
checkpoints after it passes the store's own checks, not the copies'. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from audit.checkpoints import (
    Signer,
    copy_line,
    create_checkpoint_key,
    load_signer,
    public_key_file,
)
from audit.store import AuditStore
from kykytutka.cli import app
from serving.background import sign_checkpoint
from serving.logs import JsonLines, log_event
from tests.audit.conftest import decision, execute, feedback_row, fill, outcome_row
from tests.audit.test_chain import _rehash

pytestmark = [pytest.mark.code]

COPY_FIELDS = {"event", "seq", "hash", "signed_at", "algorithm", "key_id", "signature"}


class Lines(logging.Handler):
    """The service's log as its lines would be written (JsonLines), and each record's level."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonLines())
        self.text = io.StringIO()
        self.events: list[tuple[int, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.text.write(line + "\n")
        with contextlib.suppress(ValueError):
            self.events.append((record.levelno, json.loads(line)))

    def named(self, event: str) -> list[tuple[int, dict[str, Any]]]:
        return [(level, line) for level, line in self.events if line["event"] == event]


@pytest.fixture
def service_log() -> Iterator[Lines]:
    lines = Lines()
    logger = logging.getLogger("kykytutka.serving")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(lines)
    yield lines
    logger.removeHandler(lines)
    logger.setLevel(level)


@pytest.fixture
def key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkpoint key in a folder of its own; no service key for verify to find by default."""
    monkeypatch.setenv("KYKYTUTKA_CHECKPOINT_KEY_FILE", str(tmp_path / "none.key"))
    path = tmp_path / "keys" / "checkpoint.key"
    create_checkpoint_key(path)
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"a traceback: {result.exception!r}\n{result.output}")
    return result.exit_code, result.output


def sign(store: AuditStore, signer: Signer, copy_file: Path) -> None:
    """What the service's background task does each round: sign, log, append the copy."""
    asyncio.run(sign_checkpoint(store, signer, copy_file))


def signed_store(store_url: str, key: Path, copy_file: Path) -> None:
    """Twelve rows, signed at seq 6 and at seq 12 (copies on lines 1 and 2)."""
    signer = load_signer(key)
    store = AuditStore(store_url)
    try:
        for numbers in (range(2), range(2, 4)):
            for number in numbers:  # a decision, its feedback and its outcome: three seqs
                store.record([decision(number)])
                store.record_feedback([feedback_row(number)])
                store.record_outcome(outcome_row(number))
            sign(store, signer, copy_file)
    finally:
        store.close()


# -- the copies the service writes -----------------------------------------------------------------


def test_each_checkpoint_is_logged_and_appended_to_an_owner_only_file(
    tmp_path: Path, key: Path, service_log: Lines
) -> None:
    copy_file = tmp_path / "copies" / "checkpoints.jsonl"
    copy_file.parent.mkdir()
    previous = os.umask(0o022)
    try:
        signed_store(f"sqlite:///{tmp_path / 'audit.db'}", key, copy_file)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(copy_file.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in copy_file.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [6, 12]
    assert all(set(line) == COPY_FIELDS for line in lines)  # the checkpoint, nothing else
    logged = service_log.named("audit_checkpoint")
    assert [level for level, _ in logged] == [logging.INFO, logging.INFO]
    assert [{k: line[k] for k in COPY_FIELDS} for _, line in logged] == lines
    assert all(set(line) == COPY_FIELDS | {"time", "level", "logger"} for _, line in logged)


def test_a_copy_that_cannot_be_written_is_an_error_line_and_serving_goes_on(
    tmp_path: Path, key: Path, service_log: Lines
) -> None:
    copy_file = tmp_path / "no-such-folder" / "checkpoints.jsonl"
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        fill(store, 1)
        sign(store, load_signer(key), copy_file)  # does not raise
        assert store.last_checkpoint_seq() == 3  # stored all the same
        store.record([decision(9)])  # and the store still takes writes
    finally:
        store.close()
    (level, failed), *_ = service_log.named("audit_checkpoint_copy_failed")
    assert level == logging.ERROR and failed["file"] == str(copy_file) and failed["seq"] == 3
    assert "No such file" in failed["error"]
    assert len(service_log.named("audit_checkpoint")) == 1  # the log's copy was written


# -- verify --checkpoints --------------------------------------------------------------------------


def test_verify_checks_the_copies_and_says_so(store_url: str, tmp_path: Path, key: Path) -> None:
    copies = tmp_path / "checkpoints.jsonl"
    signed_store(store_url, key, copies)
    code, output = run("--url", store_url, "--public-key", str(public_key_file(key)),
                       "--checkpoints", str(copies))  # fmt: skip
    assert code == 0, output
    assert "audit chain intact: 12 rows" in output
    assert f"2 checkpoint copies in {copies} hold, signatures verified" in output


def test_a_cut_tail_with_its_checkpoints_deleted_is_caught_by_the_copies(
    store_url: str, tmp_path: Path, key: Path
) -> None:
    copies = tmp_path / "checkpoints.jsonl"
    signed_store(store_url, key, copies)
    # The intruder cuts seq 11 and 12, deletes the checkpoint of seq 12 and moves the head back.
    new_head = _row_hash(store_url, 10)
    execute(store_url, "DELETE FROM outcomes WHERE seq = 12")
    execute(store_url, "DELETE FROM feedback WHERE seq = 11")
    execute(store_url, "DELETE FROM checkpoints WHERE seq > 10")
    execute(store_url, "UPDATE chain_head SET seq = 10, hash = :hash", hash=new_head)
    public = str(public_key_file(key))
    code, output = run("--url", store_url, "--public-key", public)
    assert code == 0 and "intact" in output  # what the store alone says: the weakness
    code, output = run("--url", store_url, "--public-key", public, "--checkpoints", str(copies))
    assert code == 1, output
    signed_at = json.loads(copies.read_text().splitlines()[1])["signed_at"]
    assert output.startswith(
        f"audit chain BROKEN at {copies} line 2 (seq 12): the store ends at seq 10 but a "
        f"checkpoint signed at {signed_at} covers seq 12: rows were deleted\n"
        "  10 rows verified, 1 copies before it\n"
    )


def test_a_rewritten_chain_with_its_checkpoints_deleted_is_caught_by_the_copies(
    store_url: str, tmp_path: Path, key: Path
) -> None:
    copies = tmp_path / "checkpoints.jsonl"
    signed_store(store_url, key, copies)
    execute(store_url, "UPDATE decisions SET alert_probability = 0.99 WHERE seq = 4")
    execute(store_url, "DELETE FROM checkpoints")
    store = AuditStore(store_url)
    try:
        _rehash(store, store_url)
    finally:
        store.close()
    public = str(public_key_file(key))
    assert run("--url", store_url, "--public-key", public)[0] == 0  # the store alone: intact
    code, output = run("--url", store_url, "--public-key", public, "--checkpoints", str(copies))
    assert code == 1, output
    assert f"BROKEN at {copies} line 1 (seq 6): the chain was rewritten: the checkpoint " in output
    assert "holds another hash for outcomes id=6 (seq 6)" in output


def test_the_shipped_log_is_read_and_its_other_lines_skipped(
    tmp_path: Path, key: Path, service_log: Lines
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    log_event("model_loaded", version="3", source="registry")
    signed_store(url, key, tmp_path / "checkpoints.jsonl")
    logging.getLogger("kykytutka.serving").warning(json.dumps({"event": "audit_unwritable"}))
    library = logging.LogRecord(
        "uvicorn.error", logging.WARNING, __file__, 1, "bad %s", ("x",), None
    )
    service_log.handle(library)  # a library's line, as JsonLines writes it
    shipped = tmp_path / "service.log"
    shipped.write_text(service_log.text.getvalue() + "\n")
    assert len(shipped.read_text().splitlines()) >= 4
    code, output = run("--url", url, "--public-key", str(public_key_file(key)),
                       "--checkpoints", str(shipped))  # fmt: skip
    assert code == 0, output
    assert f"2 checkpoint copies in {shipped} hold" in output


def test_a_forged_copy_is_named_by_its_line(tmp_path: Path, key: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    copies = tmp_path / "checkpoints.jsonl"
    signed_store(url, key, copies)
    first, second = copies.read_text().splitlines()
    forged = {**json.loads(second), "hash": _row_hash(url, 11)}
    copies.write_text(f"{first}\n{json.dumps(forged)}\n")
    public = str(public_key_file(key))
    code, output = run("--url", url, "--public-key", public, "--checkpoints", str(copies))
    assert code == 1
    assert f"BROKEN at {copies} line 2 (seq 12): a forged copy: its signature does not" in output
    # A copy of a true (seq, hash), signed by a key of the intruder's own
    other = tmp_path / "other.key"
    create_checkpoint_key(other)
    theirs = load_signer(other).sign(6, _row_hash(url, 6), datetime.now(UTC))
    copies.write_text(f"{first}\n{copy_line(theirs).decode()}")
    code, output = run("--url", url, "--public-key", public, "--checkpoints", str(copies))
    assert code == 1 and "line 2 (seq 6): a forged copy: signed by another key" in output


def _row_hash(url: str, seq: int) -> str:
    from tests.audit.conftest import scalar

    found = None
    for table in ("decisions", "feedback", "outcomes"):
        found = found or scalar(url, f"SELECT row_hash FROM {table} WHERE seq = {seq}")
    assert isinstance(found, str)
    return found


# -- bad input: exit 2 naming the file and line ----------------------------------------------------

GOOD = {
    "seq": 1,
    "hash": "a" * 64,
    "signed_at": "2026-11-02T08:00:00.000000+00:00",
    "key_id": "0123456789abcdef",
    "signature": "c2lnbmF0dXJl",
    "algorithm": "ed25519",
}


def _line(**changes: Any) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"not json", "not a JSON object"),
        (b'{"seq": 1, "hash": "\xff\xfe"}', "not UTF-8 text"),
        (b"[1, 2]", "not a JSON object: [1, 2]"),
        (_line(seq="12"), 'seq: "12" is not a whole number'),
        (_line(seq=True), "seq: true is not a whole number"),
        (_line(seq=1.5), "seq: 1.5 is not a whole number"),
        (_line(seq=0), "seq: 0 is not a whole number from 1 to"),
        (_line(seq=10**30), "seq: 1000000000000000000000000000000 is not a whole number"),
        (_line(seq=None).replace(b"null", b"9" * 5000), "not a JSON object"),
        (_line(seq=None).replace(b"null", b"NaN"), "NaN is not a number (Python's JSON"),
        (_line(seq=None).replace(b"null", b"1e999"), "seq: Infinity is not a whole number"),
        (_line(hash=None), "hash: missing is not 64 lower-case hex digits"),
        (_line(hash="A" * 64), "hash: "),
        (_line(signed_at="yesterday"), 'signed_at: "yesterday" is not an ISO 8601 time'),
        (_line(signed_at="2026-11-02T08:00:00"), 'signed_at: "2026-11-02T08:00:00" is not an'),
        (_line(signed_at="0001-01-01T00:00+01:00"), 'signed_at: "0001-01-01T00:00+01:00" is out'),
        (_line(signed_at="9999-12-31T23:00-02:00"), 'signed_at: "9999-12-31T23:00-02:00" is out'),
        (b"[" * 100_000 + b"]" * 100_000, "not a JSON object: nested too deeply"),
        (b'{"seq": ' * 50_000 + b"1" + b"}" * 50_000, "not a JSON object: nested too deeply"),
        (_line(signature=123), "signature: 123 is not a text of 1 to 200 characters"),
        (_line(key_id=""), 'key_id: "" is not a text'),
        (_line(signature="s" * 5000), 'signature: "sssss'),
        (b'{"event": "audit_checkpoint", "seq": 2}', "hash: missing"),
        (b"x" * (1 << 20) + b"\n", "longer than 1,048,576 bytes"),
    ],
)
def test_a_malformed_copy_file_is_a_usage_error_naming_its_line(
    tmp_path: Path, key: Path, line: bytes, says: str
) -> None:
    copies = tmp_path / "checkpoints.jsonl"
    other = b'{"event": "model_loaded", "version": "3"}'
    copies.write_bytes(_line() + b"\n\n" + other + b"\n" + line + b"\n")
    code, output = run("--public-key", str(public_key_file(key)), "--checkpoints", str(copies))
    assert code == 2, output
    assert output.startswith(f"kykytutka audit verify: --checkpoints: {copies} line 4: {says}")
    assert len(output) < 300  # a long value is cut short


def test_an_unreadable_copy_file_or_no_key_is_a_usage_error(tmp_path: Path, key: Path) -> None:
    public = str(public_key_file(key))
    missing = tmp_path / "none.jsonl"
    code, output = run("--public-key", public, "--checkpoints", str(missing))
    assert (code, output) == (
        2,
        f"kykytutka audit verify: --checkpoints: {missing}: No such file or directory\n",
    )
    code, output = run("--public-key", public, "--checkpoints", str(tmp_path))
    assert code == 2 and f"--checkpoints: {tmp_path}: Is a directory" in output
    copies = tmp_path / "checkpoints.jsonl"
    copies.write_bytes(_line() + b"\n")
    code, output = run("--checkpoints", str(copies))  # the service's key is not there either
    assert code == 2
    assert f"--checkpoints {copies}: checking the copies' signatures needs the public key" in output
