"""One strict JSON reader for every request body, and the route class that makes FastAPI use it.

What the reader refuses, each as a 422 naming the field (its dotted place in the body, ``body``
for the whole) in the shape of ``serving.errors``:

- text that is not JSON, or not UTF-8 (a byte inside a string is named by its field);
- ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON, though Python's reader takes them) and numbers
  out of a double's range (``1e400``);
- integers of more than ``MAX_INT_DIGITS`` digits (Python's own limit is 4,300, past which its
  reader fails without saying where);
- a member given twice in one object (which one counts is not defined by JSON);
- nesting deeper than ``MAX_DEPTH`` levels;
- a lone UTF-16 surrogate (``"\\ud800"``): not a character, and no UTF-8 can carry it.

Bodies that hold none of these (nearly all) take one pass of the standard library's C decoder
with four hooks and two substring counts: a few microseconds on a booking record (measured: about
+2-4 µs on 5 µs for a record, +30 µs for a hook call, when a body has more than ``MAX_DEPTH``
objects and arrays its depth is looked at level by level). Only a body that trips one goes through
the slow pass that finds where the problems are; it lists ``MAX_REPORTED`` of them and stops
counting past ``MAX_COUNTED``, so that a hostile megabyte costs a fraction of a second.

A body over the size limit (``serving.middleware.BodyLimit``, raised while the body streams in,
also when no Content-Length was sent) is answered 413 here, where the body is read: FastAPI turns
any other exception raised while reading a body into a 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from serving.errors import MAX_REPORTED, Problem, contract_violation, field_name
from serving.middleware import _BodyTooLarge

BROKEN_BODY = "the request body is not JSON that this service reads"
#: objects and arrays inside each other, the body itself being level 1
MAX_DEPTH = 32
#: digits of an integer (a 128-bit integer has 39)
MAX_INT_DIGITS = 40

#: problems counted before the search for more stops
MAX_COUNTED = 1_000

_INFINITY = float("inf")
_UNREAD = object()
_ROOT = object()
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_TEXT = "holds a lone surrogate or bytes that are not UTF-8: not text"


class UnreadableBody(ValueError):
    """A body the reader refuses: the first problems found (field, value, problem) and how many
    there were in all (None: more than ``MAX_COUNTED``)."""

    def __init__(self, problems: list[Problem], total: int | None) -> None:
        self.problems = problems
        self.total = total
        super().__init__("; ".join(f"{field}: {problem}" for field, _, problem in problems))


def read_json(raw: bytes) -> Any:
    """The body as Python values, or UnreadableBody naming where and what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Read once more keeping the bad bytes as lone surrogates, so that a bad byte inside a
        # string is named by its field; one outside every string is a syntax error of the body.
        problems, total = _problems(raw.decode("utf-8", "surrogateescape"))
        raise UnreadableBody(problems or [("body", None, _NOT_TEXT)], total) from None
    try:
        value = _STRICT.decode(text)
    except json.JSONDecodeError as exc:
        raise UnreadableBody([_syntax(exc)], 1) from None
    except (_Suspect, RecursionError):
        problems, total = _problems(text)
        raise UnreadableBody(problems or [("body", None, BROKEN_BODY)], total) from None
    # There cannot be more levels than containers, nor a lone surrogate without its escape.
    deep = raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _too_deep(value)
    if deep or ("\\u" in text and _SURROGATE_ESCAPE.search(text) is not None):
        problems, total = _problems(text, value)
        if problems:
            raise UnreadableBody(problems, total)
    return value


class StrictJsonRequest(Request):
    """A request whose JSON body is read by ``read_json``, and whose body over the size limit is
    a 413 rather than FastAPI's 400."""

    _parsed: Any

    async def body(self) -> bytes:
        try:
            return await super().body()
        except _BodyTooLarge:
            limit = self.app.state.settings.max_body_bytes
            raise HTTPException(413, f"request body over {limit} bytes") from None

    async def json(self) -> Any:
        if not hasattr(self, "_parsed"):
            try:
                self._parsed = read_json(await self.body())
            except UnreadableBody as exc:
                if exc.total is None:
                    shown = len(exc.problems)
                    more = f"more than {MAX_COUNTED} problems; the first {shown} are listed"
                    body = contract_violation(exc.problems, f"{BROKEN_BODY} ({more})")
                else:
                    body = contract_violation(exc.problems, BROKEN_BODY, exc.total)
                raise HTTPException(422, body) from None
        return self._parsed


class StrictJsonRoute(APIRoute):
    """An API route reading its body with ``StrictJsonRequest`` (FastAPI's "custom request
    class" pattern: ``APIRouter(route_class=StrictJsonRoute)``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


# -- the fast pass ---------------------------------------------------------------------------------


class _Suspect(Exception):
    """Raised by a hook of the fast pass: the slow pass finds and names the problem."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Suspect
    return result


def _constant(name: str) -> Any:
    raise _Suspect


def _float(text: str) -> float:
    value = float(text)
    if value == _INFINITY or value == -_INFINITY:
        raise _Suspect
    return value


def _int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS and len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Suspect
    return int(text)


_STRICT = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_constant, parse_float=_float, parse_int=_int
)
_CONTAINERS = (dict, list)


def _too_deep(value: Any) -> bool:
    # Level by level, looking only at the type of each value: about 20 µs for a hook call.
    level = [value]
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for node in level:
            children = node.values() if type(node) is dict else node
            below += [child for child in children if type(child) in _CONTAINERS]
        if not below:
            return False
        level = below
    return True


# -- the slow pass: where the problems are ----------------------------------------------------------


class _Bad:
    """Stands where the lenient pass found a problem, for the walk to name its place."""

    __slots__ = ("problem", "value")

    def __init__(self, value: Any, problem: str) -> None:
        self.value = value
        self.problem = problem


def _lenient_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        result[key] = _Bad(None, "given twice in one object") if key in result else value
    return result


def _lenient_float(text: str) -> Any:
    value = float(text)
    if value == _INFINITY or value == -_INFINITY:
        return _Bad(text, "out of the range of a number (about 1.8e308)")
    return value


def _lenient_int(text: str) -> Any:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _Bad(text, f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


_CONSTANTS = {
    name: _Bad(name, f"{name} is not a JSON number") for name in ("NaN", "Infinity", "-Infinity")
}
_LENIENT = json.JSONDecoder(
    object_pairs_hook=_lenient_object,
    parse_constant=_CONSTANTS.__getitem__,
    parse_float=_lenient_float,
    parse_int=_lenient_int,
)


def _syntax(exc: json.JSONDecodeError) -> Problem:
    return ("body", None, f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")


def _problems(text: str, value: Any = _UNREAD) -> tuple[list[Problem], int | None]:
    """The first ``MAX_REPORTED`` problems of ``text`` (``value``: its strict reading when there
    was one), and how many there are in all (None: more than ``MAX_COUNTED``, where the search
    stops: the work on a hostile megabyte stays a fraction of a second)."""
    if value is _UNREAD:
        try:
            value = _LENIENT.decode(text)
        except json.JSONDecodeError as exc:
            return [_syntax(exc)], 1
        except RecursionError:
            return [("body", None, f"nested deeper than {MAX_DEPTH} levels")], 1
    # Texts are looked at only when one may not be text: a surrogate is escaped in the body, or
    # stands in it for a byte that was not UTF-8.
    texts = bool(_SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text))
    found: list[Problem] = []
    count = 0

    def problem(link: tuple[Any, Any] | None, value: Any, said: str) -> None:
        nonlocal count
        count += 1
        if len(found) < MAX_REPORTED:
            found.append((field_name(_spelt(link)) or "body", value, said))

    # Depth first, in the body's order, without recursion: a stack of (the container's place, its
    # depth, its members still to see). A place is a link to its parent's, spelt out only for a
    # problem.
    stack: list[tuple[Any, int, Iterator[tuple[Any, Any]]]] = [(_ROOT, 0, iter([(None, value)]))]
    while stack and count <= MAX_COUNTED:
        link, depth, members = stack[-1]
        for key, node in members:
            if count > MAX_COUNTED:
                break
            here = None if link is _ROOT else (link, key)
            kind = type(node)
            if kind is _Bad:
                problem(here, node.value, node.problem)
            elif kind is str:
                if texts and _bad_text(node):
                    problem(here, None, _NOT_TEXT)
            elif kind is dict or kind is list:
                if depth + 1 > MAX_DEPTH:
                    problem(here, None, f"nested deeper than {MAX_DEPTH} levels")
                    continue
                if texts and kind is dict:
                    for name in node:
                        if _bad_text(name):
                            problem((here, name), None, _NOT_TEXT)
                below = enumerate(node) if kind is list else iter(node.items())
                stack.append((here, depth + 1, below))
                break  # its members first, then the rest of this container's
        else:
            stack.pop()
    return found, count if count <= MAX_COUNTED else None


def _bad_text(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def _spelt(link: tuple[Any, Any] | None) -> list[Any]:
    path = []
    while link is not None:
        link, key = link
        path.append(key)
    return path[::-1]
