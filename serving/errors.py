"""Every error body the service sends, and the handlers that send them.

Two shapes only:

- ``{"detail": "..."}`` for every refusal (401, 403, 404, 413, 500, 503);
- ``{"detail": "...", "errors": [{"field", "value", "problem"}]}`` for every 422, whether pydantic
  found the problem in the request, a handler found it (``refuse``) or the CDS hook found it in the
  booking context (``contract_violation``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.logs import log_event

BROKEN_CONTRACT = "the request breaks the booking-record contract"
BROKEN_HOOK_CONTEXT = "the booking context breaks the booking-record contract"

#: (field, value, problem): one entry of the ``errors`` list of a 422
Problem = tuple[str, Any, str]


def detail(message: str) -> dict[str, str]:
    """The body of a refusal that is not a 422."""
    return {"detail": message}


def contract_violation(
    problems: Iterable[Problem], message: str = BROKEN_CONTRACT
) -> dict[str, Any]:
    """The body of every 422: what was wrong, and for each problem the field, value and why."""
    return {
        "detail": message,
        "errors": [
            {"field": field, "value": _json_safe(value), "problem": problem}
            for field, value, problem in problems
        ],
    }


def pydantic_problems(errors: Sequence[Any], where: str) -> list[Problem]:
    """pydantic's errors as problems; a field is its dotted location without the "body" prefix
    (``records.1.work_ability_score``), ``where`` when the whole input is wrong."""
    problems = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ()) if p != "body"]
        field = ".".join(location).replace(".records.", "records.") or where
        problems.append((field, error.get("input"), error.get("msg", "invalid")))
    return problems


def refuse(field: str, value: Any, problem: str) -> NoReturn:
    """Answer 422 naming ``field`` and ``value``: a problem a handler found, not pydantic."""
    raise HTTPException(422, contract_violation([(field, value, problem)]))


def register_error_handlers(app: FastAPI) -> None:
    app.exception_handler(RequestValidationError)(_request_invalid)
    app.exception_handler(HTTPException)(_refused)
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
        body or detail(exc.detail), status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, never a user's mistake: logged with its type, answered without a traceback.
    log_event("internal_error", route=request.url.path, error=type(exc).__name__)
    return JSONResponse(status_code=500, content=detail("internal error"))


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value
