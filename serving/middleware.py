"""Plain ASGI middleware: the bodies the app reads (not too large, not content-coded), and request
counts and latency by route.

Plain ASGI on purpose: Starlette's BaseHTTPMiddleware cost about 1 ms a call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import detail, looks_personal
from serving.metrics import Metrics

#: characters of a refused Content-Encoding echoed in the answer
CODING_CHARS = 40


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, whether or not Content-Length is sent; with
    415 a body sent content-coded (RFC 9110 §15.5.16); and with 501 one sent with a transfer
    coding other than chunked (RFC 9112 §6.1: the server dechunks, and would read what the other
    coding hides as the body), on every route.

    No route decodes gzip, br or deflate: read as they come, such bytes would be taken for the
    JSON or form they hide. A ``Content-Encoding`` of ``identity`` (any case) or none is read; a
    request without a body passes whatever it says, there being nothing to decode."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        transfer = _transfer_coding(scope["headers"])
        if transfer is not None:
            await _refuse(
                send,
                501,
                f"Transfer-Encoding {_shown(transfer)} is not supported: send the body chunked "
                "without another coding, or with a Content-Length",
            )
            return
        coding = _body_coding(scope["headers"])
        if coding is not None:
            # Answered without reading the body: uvicorn drops what is left of it.
            await _coded(send, coding)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting, send)
        except _BodyTooLarge:
            await _too_large(send, self.limit)


class Observe:
    """Request counts and latency by route (the route's path template, "unmatched" for none)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
            if metrics is not None:
                metrics.requests.labels(path, str(status)).inc()
                metrics.latency.labels(path).observe(time.perf_counter() - started)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, f"request body over {limit} bytes")


async def _coded(send: Send, coding: bytes) -> None:
    # Accept-Encoding in a 415 names the codings the server takes in requests (RFC 9110 §12.5.3).
    message = f"Content-Encoding {_shown(coding)} is not supported: send the body uncompressed"
    await _refuse(send, 415, message, (b"accept-encoding", b"identity"))


async def _refuse(send: Send, status: int, message: str, *headers: tuple[bytes, bytes]) -> None:
    # Sent from outside the app, below its exception handlers: the response is written here.
    body = json.dumps(detail(message)).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": [*start, *headers]})
    await send({"type": "http.response.body", "body": body})


def _body_coding(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The first ``Content-Encoding`` other than identity of a request that has a body; None when
    there is no body or none such (every header of that name is looked at, not only the last)."""
    has_body, refused = False, None
    for name, value in headers:
        if name == b"content-encoding" and refused is None and not _is_identity(value):
            refused = value
        elif name == b"transfer-encoding":
            has_body = True  # chunked: a body of a length not said
        elif name == b"content-length":
            has_body = has_body or value.strip().lstrip(b"0") != b""
    return refused if has_body else None


def _transfer_coding(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The first ``Transfer-Encoding`` naming a coding other than chunked; None if none does."""
    for name, value in headers:
        if name == b"transfer-encoding" and not _only(value, b"chunked"):
            return value
    return None


def _is_identity(value: bytes) -> bool:
    # A list of codings (RFC 9110 §8.4): the body is plain only when each one is identity.
    return _only(value, b"identity")


def _only(value: bytes, coding: bytes) -> bool:
    """Whether a header's list of codings names none but ``coding`` (any case; an empty element
    says nothing, RFC 9110 §5.6.1)."""
    return all(named.strip() in (b"", coding) for named in value.lower().split(b","))


def _shown(value: bytes) -> str:
    """``value`` as the answer may echo it: quoted, ASCII (other bytes as ``\\xNN``), at most
    ``CODING_CHARS`` characters, and not at all when it holds a personal identity code."""
    text = value.decode("ascii", "backslashreplace")
    if len(text) > CODING_CHARS:
        text = text[: CODING_CHARS - 3] + "..."
    return "(not echoed)" if looks_personal(text) else f'"{text}"'
