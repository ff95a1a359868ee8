"""The HTTP server of ``kykytutka serve``: uvicorn on httptools and uvloop, with limits of its own.

uvicorn gives a concurrency limit and a keep-alive timeout, but with httptools no limit on a
request's head and no time limit to send it: a 30 MB header was accepted, a 200 MB one took 37 s
and 400 MB (httptools grows a header by concatenation), and 300 half-sent requests stayed open as
long as their clients liked. ``LimitedHttpTools`` adds:

- a head of more than ``max_header_bytes`` (request line and headers) or with more than
  ``max_headers`` headers is answered 431 and the connection closed as soon as the excess has
  arrived, not after the whole head: bytes are counted as they are received, not only as headers
  are parsed (httptools holds a header's pieces until its end);
- a request, head and body, must arrive within ``header_timeout_seconds`` of its first byte, and a
  new connection must start one within that time: else 408 (when part of a head came, or a body
  no answer has begun for) and close;
- past ``max_concurrency`` connections or requests at once, a 503 in the documented error shape
  with ``Retry-After`` (uvicorn's own is plain text), on uvicorn's condition.

Each refusal is in the documented error shape, ``{"detail": ...}``, saying what was wrong in
constant text and the limits: never what the request held.

The keep-alive timeout is uvicorn's (``keep_alive_seconds``). All of it costs a few attribute
updates and one timer a request.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httptools
import uvicorn
from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import Server, ServerState
from uvicorn.supervisors import Multiprocess

from serving.errors import detail
from serving.logs import logging_config
from serving.settings import ServiceSettings

APP = "serving.app:create_app"
#: how long a refused connection still reads (and drops) what its client sends before it closes
LINGER_SECONDS = 2.0
#: the request line's own bytes besides the target: method, spaces, version, line endings
_REQUEST_LINE = 16
#: a header line's bytes besides its name and value: ": " and "\r\n"
_HEADER_LINE = 4


#: what the log says of each refusal (constant text: no request data); uvicorn's own for a 400
_NOT_HTTP = "Invalid HTTP request received."
_SLOW_HEAD = "Request refused with 408, its head came too slowly"
_SLOW_BODY = "Request refused with 408, its body came too slowly"
_LARGE_HEAD = "Request refused with 431, its head is over the size or header count limit"


@dataclass(frozen=True)
class HeadLimits:
    max_bytes: int
    max_headers: int
    timeout_seconds: float


class _HeadTooLarge(Exception):
    pass


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head size, header count and read time limit (above).
    The limits come from the ``head_limits`` attribute ``run`` sets on the uvicorn config, which
    reaches the spawned workers with it."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits: HeadLimits = getattr(config, "head_limits", None) or default_limits()
        self._max_head = limits.max_bytes
        self._max_headers = limits.max_headers
        self._read_seconds = limits.timeout_seconds
        self._in_head = False  # between a message's first byte and the end of its head
        self._head_bytes = 0  # the head's bytes parsed so far (request line and whole headers)
        self._head_received = 0  # the bytes received since the head began (a header in pieces)
        self._header_count = 0
        self._ended_in_chunk = False  # a message ended in the chunk being parsed (pipelining)
        self._read_deadline: asyncio.TimerHandle | None = None
        self._discarding = False  # refused: nothing more is read, and the close lingers
        # this connection's requests whose answers may still be sent, in order (pipelining), and
        # a refusal waiting for them: HTTP/1.1 answers in the order asked
        self._answering: list[RequestResponseCycle] = []
        self._refusal: bytes | None = None
        # uvicorn's own check answers its 503 in plain text: this one answers in the documented
        # error shape (``at_capacity``), on the same condition.
        self._capacity = self.limit_concurrency
        self.limit_concurrency = None

    # -- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_deadline()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return  # refused: the rest is not read
        self._unset_keepalive_if_required()
        if self._read_deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm_read_deadline()  # the first bytes of a request on a kept-alive connection
        self._ended_in_chunk = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, _HeadTooLarge):
                self._refuse_large_head()
            else:
                self._refuse_not_http()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            self._refuse_not_http()
            return
        if self._in_head:
            # The head goes on past this chunk: all of the chunk is head, unless an earlier
            # request ended in it (pipelined), whose bytes are not this head's. This bounds what
            # httptools holds of a header it has not finished (it calls back at a header's end).
            if not self._ended_in_chunk:
                self._head_received += len(data)
            if self._head_received > self._max_head:
                self._refuse_large_head()

    # -- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = _REQUEST_LINE
        self._head_received = 0
        self._header_count = 0
        if self._read_deadline is None:
            self._arm_read_deadline()  # a pipelined request, behind one still being answered

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self._max_head:
            raise _HeadTooLarge
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_bytes += len(name) + len(value) + _HEADER_LINE
        if self._header_count > self._max_headers or self._head_bytes > self._max_head:
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        capacity = self._capacity
        if capacity is None or (len(self.connections) < capacity and len(self.tasks) < capacity):
            super().on_headers_complete()
        else:
            self.logger.warning("Exceeded concurrency limit.")
            app, self.app = self.app, at_capacity  # the request is answered 503, not served
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        if self.cycle is not None:
            self._answering = [*filter(_unanswered, self._answering), self.cycle]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts the next pipelined request, if any
        if self._refusal is not None and not any(map(_unanswered, self._answering)):
            refusal, self._refusal = self._refusal, None
            self._send_refusal(refusal)

    def on_message_complete(self) -> None:
        self._ended_in_chunk = True
        self._cancel_read_deadline()
        super().on_message_complete()

    # -- limits -------------------------------------------------------------------------------

    def _arm_read_deadline(self) -> None:
        self._read_deadline = self.loop.call_later(self._read_seconds, self._read_timed_out)

    def _cancel_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        if self.pipeline or (
            self._in_head and self.cycle is not None and not self.cycle.response_complete
        ):
            # A pipelined request waits behind one still being answered (uvicorn stops reading
            # meanwhile): not the client's slowness.
            self._arm_read_deadline()
            return
        if self._in_head:
            self._refuse_slow(_SLOW_HEAD)
        elif self._body_awaited():
            # The head came but not all of the body: nothing has been said yet, so the client is
            # told why.
            self._refuse_slow(_SLOW_BODY)
        else:
            # No request started (an idle new connection, stray bytes), or the body stalled after
            # its answer began: nothing can be said in between, only the connection closed.
            self.transport.close()

    def _body_awaited(self) -> bool:
        """Whether a request's body is still coming and no answer to it has begun."""
        cycle = self.cycle
        return cycle is not None and cycle.more_body and not cycle.response_started

    # -- refusals -----------------------------------------------------------------------------

    def _refuse_not_http(self) -> None:
        self._refuse(400, "not a valid HTTP request", _NOT_HTTP)

    def _refuse_large_head(self) -> None:
        limits = f"{self._max_head} bytes or {self._max_headers} headers"
        self._refuse(431, f"request head over {limits}", _LARGE_HEAD)

    def _refuse_slow(self, logged: str) -> None:
        seconds = f"{self._read_seconds:g} s"
        self._refuse(408, f"request head and body did not arrive within {seconds}", logged)

    def _refuse(self, status: int, message: str, logged: str) -> None:
        """Answer ``status`` with ``{"detail": message}``, log ``logged``, read no more of the
        request and close. The close lingers (as nginx's does): what the client still sends is
        discarded for up to ``LINGER_SECONDS``, so that it reads the answer rather than a reset
        that would drop it."""
        self._cancel_read_deadline()
        self._in_head = False
        if self.transport.is_closing() or self._discarding:
            return
        self.logger.warning(logged)
        if self._body_awaited():
            # The app waits for the rest of the body (a stalled or broken one): it hears a
            # disconnect now, and whatever it answers is dropped rather than sent after this.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        body = json.dumps(detail(message)).encode("ascii")  # escaped: ASCII whatever it says
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self._discarding = True
        if any(map(_unanswered, self._answering)):
            # Requests before this one (pipelined in the same bytes) are still being answered:
            # the refusal follows their answers (``on_response_complete``), never cuts them off.
            self._refusal = b"".join(content)
            return
        self._send_refusal(b"".join(content))

    def _send_refusal(self, refusal: bytes) -> None:
        if self.transport.is_closing():
            return
        self.transport.write(refusal)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def _unanswered(cycle: RequestResponseCycle) -> bool:
    """Whether ``cycle``'s answer may still be sent: not yet complete, its client not gone."""
    return not cycle.response_complete and not cycle.disconnected


_AT_CAPACITY = json.dumps(detail("the server is at its limit of connections; retry later"))


async def at_capacity(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """503 in the documented error shape, and the connection closed: past ``max_concurrency``."""
    body = _AT_CAPACITY.encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def default_limits() -> HeadLimits:
    fields = ServiceSettings.model_fields
    return HeadLimits(
        fields["max_header_bytes"].default,
        fields["max_headers"].default,
        fields["header_timeout_seconds"].default,
    )


def uvicorn_config(
    settings: ServiceSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    app: str = APP,
) -> uvicorn.Config:
    """uvicorn's configuration for the service: its limits, its log and no server banner."""
    config = uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=LimitedHttpTools,
        loop="auto",  # uvloop
        ws="none",
        lifespan="on",
        log_config=logging_config(settings.log_level),
        access_log=False,
        server_header=False,
        limit_concurrency=settings.max_concurrency,
        timeout_keep_alive=settings.keep_alive_seconds,  # type: ignore[arg-type]  # float works
    )
    config.head_limits = HeadLimits(  # type: ignore[attr-defined]
        settings.max_header_bytes, settings.max_headers, settings.header_timeout_seconds
    )
    return config


def run(config: uvicorn.Config) -> None:
    """Serve until stopped: in this process, or in ``config.workers`` spawned workers sharing one
    socket (what ``uvicorn.run`` does, which takes no ready-made configuration)."""
    server = Server(config=config)
    if config.workers > 1:
        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run()
