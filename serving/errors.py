"""Every error body the service sends, and the handlers that send them.

Two shapes only:

- ``{"detail": "..."}`` for every refusal (400, 401, 403, 404, 409, 413, 415, 500, 503);
- ``{"detail": "...", "errors": [{"field", "value", "problem"}]}`` for every 422, whether the JSON
  reader found the problem in the body (``serving.jsonbody``), pydantic found it in the request, a
  handler found it (``refuse``) or the CDS hook found it in the booking context
  (``contract_violation``).

Every answer is small and can always be sent, whatever the request held: at most
``MAX_REPORTED`` problems are listed (``detail`` then says how many there were); a field is named
in at most ``FIELD_CHARS`` characters; a value is echoed only as a JSON scalar of at most
``ECHO_CHARS`` characters (a number JSON cannot carry, such as NaN, as text; an object or array
as its kind, ``"<object>"``, ``"<array of 3>"``; a missing member as null), with anything UTF-8
cannot carry (a lone surrogate) escaped.

No answer repeats a personal identity code (``data_contracts.identity``): a value that holds one
is echoed as null, its problem saying why, and a part of a field's name that holds one (a member
named by the code) is replaced by ``PERSONAL_FIELD``. Only the first ``LOOKED_AT`` characters
are looked at (the search takes about 3 s a megabyte of digits), more than is ever echoed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from audit.store import AuditUnavailable
from data_contracts.identity import contains_personal_identity_code
from serving.logs import log_event

BROKEN_CONTRACT = "the request breaks the booking-record contract"
BROKEN_HOOK_CONTEXT = "the booking context breaks the booking-record contract"

#: (field, value, problem): one entry of the ``errors`` list of a 422
Problem = tuple[str, Any, str]
#: problems listed in one answer; the rest are counted
MAX_REPORTED = 20
#: characters of an echoed value, of a field's name and of a problem
ECHO_CHARS = 80
FIELD_CHARS = 200
PROBLEM_CHARS = 300
DETAIL_CHARS = 1_000
_ECHOED_INTEGERS = 10**20
#: characters of a value or a field's part looked at for a personal identity code
LOOKED_AT = 200
NOT_ECHOED = "the value looks like a personal identity code and is not echoed"
PERSONAL_FIELD = "<personal identity code>"


def detail(message: str) -> dict[str, str]:
    """The body of a refusal that is not a 422."""
    return {"detail": message}


def contract_violation(
    problems: Iterable[Problem], message: str = BROKEN_CONTRACT, total: int | None = None
) -> dict[str, Any]:
    """The body of every 422: what was wrong, and for each problem the field, value and why; the
    first ``MAX_REPORTED`` problems (``total``: how many there were, when more than given)."""
    listed: list[dict[str, Any]] = []
    count = 0
    for field, value, problem in problems:
        count += 1
        if len(listed) < MAX_REPORTED:
            shown = echo(value)
            if shown is not None and looks_personal(value):
                shown, problem = None, f"{problem} ({NOT_ECHOED})"
            listed.append(
                {
                    "field": _cut(_unnamed(field), FIELD_CHARS),
                    "value": shown,
                    "problem": _cut(problem, PROBLEM_CHARS),
                }
            )
    count = max(count, total or 0)
    if count > len(listed):
        message = f"{message} ({count} problems; the first {len(listed)} are listed)"
    return {"detail": message, "errors": listed}


def pydantic_problems(errors: Sequence[Any], where: str) -> list[Problem]:
    """pydantic's errors as problems; a field is its dotted location without the "body" prefix
    (``records.1.work_ability_score``), ``where`` when the whole input is wrong. The value of a
    missing field is null (pydantic's input there is the object around it)."""
    problems = []
    for error in errors:
        field = field_name(p for p in error.get("loc", ()) if p != "body") or where
        value = None if error.get("type") == "missing" else error.get("input")
        problem = error.get("msg", "invalid")
        if isinstance(value, bytes | bytearray):
            # FastAPI hands the route the raw bytes when the Content-Type is not JSON
            value, problem = None, "not sent as JSON: the Content-Type must be application/json"
        problems.append((field, value, problem))
    return problems


def field_name(location: Iterable[Any]) -> str:
    """A place in a request as the errors name it: ``records.1.age``; bounded in length."""
    return _cut(".".join(map(str, location)), FIELD_CHARS)


def echo(value: Any) -> Any:
    """``value`` as an error may echo it: a JSON scalar that can always be encoded, at most
    ``ECHO_CHARS`` characters; an object or array by its kind only."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < _ECHOED_INTEGERS else f"<integer of {_digits(value)}>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return "<object>"
    if isinstance(value, list | tuple | set | frozenset):
        return f"<array of {len(value)}>"
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return _cut(value if isinstance(value, str) else str(value))


def looks_personal(value: Any) -> bool:
    """Whether ``value``, as an error would echo it, holds a personal identity code (in its
    first ``LOOKED_AT`` characters: more than is ever echoed)."""
    if isinstance(value, bool | dict | list | tuple | set | frozenset | bytes | bytearray):
        return False
    if isinstance(value, int) and abs(value) >= _ECHOED_INTEGERS:
        return False  # echoed as its number of digits
    text = value if isinstance(value, str) else str(value)
    return contains_personal_identity_code(text[:LOOKED_AT])


def refuse(field: str, value: Any, problem: str) -> NoReturn:
    """Answer 422 naming ``field`` and ``value``: a problem a handler found, not pydantic."""
    raise HTTPException(422, contract_violation([(field, value, problem)]))


def register_error_handlers(app: FastAPI) -> None:
    app.exception_handler(RequestValidationError)(_request_invalid)
    app.exception_handler(HTTPException)(_refused)
    app.exception_handler(AuditUnavailable)(_audit_unavailable)
    app.exception_handler(ClientDisconnect)(_body_gone)
    app.exception_handler(Exception)(_unexpected)


async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(
        status_code=422, content=contract_violation(pydantic_problems(exc.errors(), "body"))
    )


async def _refused(request: Request, exc: HTTPException) -> JSONResponse:
    # A 422 raised with a contract_violation body goes out as that body, any other refusal as
    # {"detail": ...} (what FastAPI's own handler would send).
    body = exc.detail if isinstance(exc.detail, dict) and "errors" in exc.detail else None
    return JSONResponse(
        body or detail(_cut(str(exc.detail), DETAIL_CHARS)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _audit_unavailable(request: Request, exc: AuditUnavailable) -> JSONResponse:
    # A store that cannot be read (or written, where a route did not say more): the service is
    # not able to answer now, which is not a bug of ours nor a mistake of the caller's.
    log_event("audit_unavailable", logging.ERROR, route=_route(request), error=str(exc)[:200])
    return JSONResponse(status_code=503, content=detail("the audit store cannot be read now"))


def _route(request: Request) -> str:
    """The route's path template for a log line: never the path as sent, which a client fills."""
    return str(getattr(request.scope.get("route"), "path", "unmatched"))


async def _body_gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
    # A body that stopped before its end: the client went away, or the server refused it (408)
    # and is closing. Nobody hears the answer, and it is no bug (the pages read their forms
    # with Starlette, which raises this where FastAPI's JSON bodies become a 400).
    return JSONResponse(status_code=400, content=detail("the request body did not arrive"))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, never a user's mistake: logged at error level with its type and the route's
    # template, answered without a traceback.
    log_event("internal_error", logging.ERROR, route=_route(request), error=type(exc).__name__)
    return JSONResponse(status_code=500, content=detail("internal error"))


def _unnamed(field: str) -> str:
    """``field`` with each dotted part that holds a personal identity code replaced."""
    parts = field[: FIELD_CHARS + LOOKED_AT].split(".")
    shown = [
        PERSONAL_FIELD if contains_personal_identity_code(part[:LOOKED_AT]) else part
        for part in parts
    ]
    return field if shown == parts else ".".join(shown)


def _cut(text: str, limit: int = ECHO_CHARS) -> str:
    """At most ``limit`` characters, UTF-8 encodable (a lone surrogate escaped, ``\\ud800``)."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _digits(value: int) -> str:
    # str() of an integer over 4,300 digits raises; its length is known without it
    return f"{int(math.log10(abs(value))) + 1} digits"
