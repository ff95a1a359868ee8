"""The server's own limits over real sockets (``kykytutka serve``, serving/server.py): request head
size and header count (431 before the head is all read), the time to send a request, head or body
(408), the keep-alive timeout and the concurrency limit (503), each refusal in the documented error
shape; and a content-coded body refused (415) before it is read. No model is needed: /healthz
answers without.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from serving.security import Role, create_key
from tests.serving.conftest import free_port, service_env

pytestmark = [pytest.mark.code, pytest.mark.slow]  # all over a running service

LIMITS = {
    "KYKYTUTKA_MAX_HEADER_BYTES": "4096",
    "KYKYTUTKA_MAX_HEADERS": "20",
    "KYKYTUTKA_HEADER_TIMEOUT_SECONDS": "1",
    "KYKYTUTKA_KEEP_ALIVE_SECONDS": "1",
    "KYKYTUTKA_MAX_CONCURRENCY": "8",
}


@dataclass
class Running:
    port: int
    keys: dict[str, str]
    keys_file: Path
    log: Path

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.settimeout(10)
        return sock


@contextlib.contextmanager
def running_service(
    project: Path, workers: int = 1, ready: str = "/healthz", app: str | None = None, **extra: str
) -> Iterator[Running]:
    """``kykytutka serve`` in ``project`` with the test environment and ``extra`` (or the same
    server on another ``app`` factory); its stderr (every log line) in ``project/service.log``."""
    project.mkdir(parents=True, exist_ok=True)
    keys_file = project / "api-keys.json"
    keys = {role.value: create_key(keys_file, f"test-{role.value}", role) for role in Role}
    env = service_env(project, KYKYTUTKA_API_KEYS_FILE=str(keys_file), **extra)
    if workers > 1:
        # The tracking store made here, not by the workers at once (they would race on it).
        MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"]).search_registered_models()
    port = free_port()
    log = project / "service.log"
    command = [str(Path(sys.executable).parent / "kykytutka"), "serve", "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    if app is not None:
        command = [sys.executable, "-c", "from serving.server import run, uvicorn_config; "
                   "from serving.settings import ServiceSettings; "
                   f"run(uvicorn_config(ServiceSettings(), port={port}, app={app!r}))"]  # fmt: skip
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            cwd=project if app is None else Path(__file__).resolve().parents[2],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 180  # the stack imports slowly on a busy machine
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready}", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        else:
            pytest.fail(f"the service did not answer {ready} within 180 s")
        yield Running(port, keys, keys_file, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or 10 s pass)."""
    received = b""
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def refusal(response: bytes, expected: int) -> str:
    """The detail of a refusal the server sent and closed after, once its shape is checked: JSON
    ``{"detail": ...}`` as every refusal of the service."""
    head, _, body = response.partition(b"\r\n\r\n")
    assert status(response) == expected, response[:300]
    headers = head.lower().split(b"\r\n")
    assert b"content-type: application/json" in headers
    assert b"content-length: %d" % len(body) in headers
    answer = json.loads(body)
    assert set(answer) == {"detail"}
    assert isinstance(answer["detail"], str)
    return answer["detail"]


def healthz(extra_headers: bytes = b"") -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + extra_headers + b"\r\n"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_service(tmp_path_factory.mktemp("transport"), **LIMITS) as service:
        yield service


def test_a_head_within_the_limits_is_served(limited: Running) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % n for n in range(15)) + b"X-Big: " + b"a" * 3000 + b"\r\n"
    with limited.connect() as sock:
        sock.sendall(healthz(headers))
        assert status(answer(sock)) == 200


def test_an_oversized_head_is_refused_before_it_is_all_read(limited: Running) -> None:
    """A head that never ends: the 431 comes once the limit is passed, not at the head's end."""
    with limited.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 65536)
        response = answer(sock)
    assert refusal(response, 431) == "request head over 4096 bytes or 20 headers"
    assert b"connection: close" in response


def test_a_30_mb_header_is_refused_at_once(limited: Running) -> None:
    """Today's 30 MB header (accepted before the limit): refused within a second while the
    client is still sending, and its client reads the refusal (the close lingers)."""
    sent = 0

    def flood(sock: socket.socket) -> None:
        nonlocal sent
        chunk = b"a" * 65536
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ")
            while sent < 30_000_000:
                sock.sendall(chunk)
                sent += len(chunk)

    started = time.monotonic()
    with limited.connect() as sock:
        sender = threading.Thread(target=flood, args=(sock,))
        sender.start()
        first = sock.recv(65536)
        answered = time.monotonic() - started
        sender.join(timeout=10)
    assert status(first) == 431
    assert answered < 1.0


def test_a_head_over_the_limit_in_one_piece_is_refused(limited: Running) -> None:
    with limited.connect() as sock:
        sock.sendall(healthz(b"X-Big: " + b"a" * 5000 + b"\r\n"))
        assert "4096 bytes" in refusal(answer(sock), 431)


def test_more_headers_than_allowed_are_refused(limited: Running) -> None:
    with limited.connect() as sock:
        sock.sendall(healthz(b"".join(b"X-H%d: v\r\n" % n for n in range(30))))
        assert "20 headers" in refusal(answer(sock), 431)


def test_a_long_query_string_counts_towards_the_head(limited: Running) -> None:
    with limited.connect() as sock:
        sock.sendall(b"GET /healthz?q=" + b"a" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        assert status(answer(sock)) == 431


def test_a_head_sent_slowly_is_cut_off(limited: Running) -> None:
    """Many half-sent requests: every one answered 408 and closed after the timeout (1 s here)."""
    socks = [limited.connect() for _ in range(50)]
    started = time.monotonic()
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        responses = [answer(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    assert time.monotonic() - started < 5
    details = {refusal(r, 408) for r in responses}
    assert details == {"request head and body did not arrive within 1 s"}


def test_a_head_dripped_byte_by_byte_is_cut_off_too(limited: Running) -> None:
    """The timeout runs from the request's first byte: trickling does not reset it."""
    request = healthz()
    started = time.monotonic()
    with limited.connect() as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for byte in request[:-2]:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
                if time.monotonic() - started > 3:
                    break
        response = answer(sock)
    assert refusal(response, 408)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("garbage", [b"NOT HTTP AT ALL\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00"])
def test_what_is_not_http_is_answered_400_in_the_error_shape(
    limited: Running, garbage: bytes
) -> None:
    """Plain garbage, and a TLS hello sent to the plain-HTTP port."""
    with limited.connect() as sock:
        sock.sendall(garbage)
        response = answer(sock)
    assert refusal(response, 400) == "not a valid HTTP request"
    assert b"connection: close" in response.lower()


def test_a_connection_that_sends_nothing_is_closed(limited: Running) -> None:
    started = time.monotonic()
    with limited.connect() as sock:
        assert answer(sock) == b""
    assert 0.8 < time.monotonic() - started < 3


def post_head(limited: Running, length: int, extra_headers: bytes = b"") -> bytes:
    return (
        b"POST /v1/assessments HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nAuthorization: Bearer %s\r\n%s\r\n"
        % (length, limited.keys["booking-system"].encode(), extra_headers)
    )


def test_a_stalled_body_is_answered_408_and_cut_off(limited: Running) -> None:
    """The head came, 10 of the body's 100 bytes, then nothing: told why, then closed."""
    started = time.monotonic()
    with limited.connect() as sock:
        sock.sendall(post_head(limited, 100) + b'{"canary":')
        response = answer(sock)
    assert time.monotonic() - started < 3
    assert refusal(response, 408) == "request head and body did not arrive within 1 s"
    assert b"connection: close" in response.lower()
    assert response.count(b"HTTP/1.1 ") == 1  # the app, which waited for the body, said nothing


def test_a_broken_chunked_body_is_answered_400_once(limited: Running) -> None:
    """A chunk size that is not one, while the app waits for the body: only the server answers."""
    head = post_head(limited, 0).replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
    with limited.connect() as sock:
        sock.sendall(head + b'5\r\n{"a":\r\n')
        time.sleep(0.2)  # the app is waiting for the rest
        sock.sendall(b"zz\r\n")
        response = answer(sock)
    assert refusal(response, 400) == "not a valid HTTP request"
    assert response.count(b"HTTP/1.1 ") == 1


def test_a_body_stalled_after_its_answer_began_is_only_cut_off(limited: Running) -> None:
    """The app answered before reading the body (415: it is content-coded) and the client then
    stalls: the answer stands alone, and the connection is closed at the timeout."""
    started = time.monotonic()
    with limited.connect() as sock:
        sock.sendall(post_head(limited, 100, b"Content-Encoding: gzip\r\n") + b"\x1f\x8b" * 5)
        response = answer(sock)
    assert 0.8 < time.monotonic() - started < 3
    assert response.count(b"HTTP/1.1 ") == 1
    assert refusal(response, 415) == (
        'Content-Encoding "gzip" is not supported: send the body uncompressed'
    )
    assert b"accept-encoding: identity" in response.lower()


def answers(response: bytes) -> list[bytes]:
    """The answers in what a connection received, each from its status line."""
    return [b"HTTP/1.1 " + part for part in response.split(b"HTTP/1.1 ")[1:]]


def internal_errors(limited: Running) -> list[str]:
    time.sleep(0.2)
    lines = limited.log.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if "internal_error" in line or "Exception in ASGI" in line]


@pytest.mark.parametrize(
    ("bad", "refused"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n", 431),
    ],
)
def test_requests_pipelined_before_a_refused_one_are_answered_first(
    limited: Running, bad: bytes, refused: int
) -> None:
    """Two requests and then one the server refuses, in one send: the two are answered, in
    order, then the refusal, then the close (their answers were written after the refusal had
    shut the connection for writing: an internal error, and the client took the refusal for
    the first request's answer)."""
    kept = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    with limited.connect() as sock:
        sock.sendall(kept + kept + bad)
        got = answers(answer(sock))
    assert [status(one) for one in got] == [200, 200, refused]
    refusal(got[-1], refused)
    assert internal_errors(limited) == []


def test_a_form_whose_body_stalls_is_refused_without_an_internal_error(limited: Running) -> None:
    """The pages read their forms with Starlette, which raises when the body never comes."""
    head = (
        b"POST /ui/sign-in HTTP/1.1\r\nHost: t\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    )
    with limited.connect() as sock:
        sock.sendall(head + b"key=canary")
        response = answer(sock)
    assert refusal(response, 408) == "request head and body did not arrive within 1 s"
    assert internal_errors(limited) == []


def test_a_content_encoding_not_ascii_is_refused_in_ascii(limited: Running) -> None:
    body = b'{"records": []}'
    coding = b"Content-Encoding: gz\xe4ip\xff\r\nConnection: close\r\n"
    with limited.connect() as sock:
        sock.sendall(post_head(limited, len(body), coding) + body)
        detail = refusal(answer(sock), 415)
    assert detail.isascii()
    assert '"gz\\xe4ip\\xff"' in detail


def test_a_chunked_body_under_another_transfer_coding_is_refused_not_read(
    limited: Running,
) -> None:
    """``gzip, chunked``: the server dechunks, and the gzip inside was read as the JSON body
    (a 422); now a 501 (RFC 9112 §6.1)."""
    body = gzip.compress(b'{"records": []}')
    head = post_head(limited, 0).replace(
        b"Content-Length: 0", b"Transfer-Encoding: gzip, chunked\r\nConnection: close"
    )
    with limited.connect() as sock:
        sock.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        detail = refusal(answer(sock), 501)
    assert detail.startswith('Transfer-Encoding "gzip, chunked" is not supported')


def test_a_kept_alive_connection_is_closed_after_the_keep_alive_timeout(limited: Running) -> None:
    with limited.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        started = time.monotonic()
        response = answer(sock)
    assert status(response) == 200
    assert 0.8 < time.monotonic() - started < 3


def test_past_the_concurrency_limit_the_answer_is_503_in_the_error_shape(limited: Running) -> None:
    """8 connections at once (the limit here): the next request is told to come back."""
    held = [limited.connect() for _ in range(8)]
    try:
        time.sleep(0.2)
        with limited.connect() as sock:
            sock.sendall(healthz())
            response = answer(sock)
    finally:
        for sock in held:
            sock.close()
    assert status(response) == 503
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"retry-after: 1" in head.lower()
    assert set(json.loads(body)) == {"detail"}
    time.sleep(0.3)  # the held connections are gone: served again
    with limited.connect() as sock:
        sock.sendall(healthz())
        assert status(answer(sock)) == 200


def test_the_refusals_are_logged_without_the_request(limited: Running) -> None:
    with limited.connect() as sock:
        sock.sendall(healthz(b"X-Canary: canary" + b"z" * 5000 + b"\r\n"))
        answer(sock)
    with limited.connect() as sock:
        sock.sendall(post_head(limited, 100, b"X-Canary: canaryzz\r\n") + b'{"canaryzz":')
        answer(sock)
    time.sleep(0.2)
    log = limited.log.read_text(encoding="utf-8")
    assert "canaryzz" not in log
    assert "Request refused with 431" in log
    assert "Request refused with 408, its body came too slowly" in log
    assert "internal_error" not in log  # the app, left waiting for the body, saw a disconnect
    for line in log.splitlines():
        if line.startswith("{"):
            json.loads(line)
