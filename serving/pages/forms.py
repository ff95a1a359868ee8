"""Reading a posted form: URL-encoded only, UTF-8, each field once, bounded in number."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from data_contracts.identity import contains_personal_identity_code
from serving.pages.session import Session, csrf_ok

MAX_FIELDS = 100


def shown(value: str, limit: int = 80) -> str:
    """A value as a refusal may quote it: cut to ``limit``, never a personal identity code."""
    if contains_personal_identity_code(value):
        return "(a personal identity code: not shown)"
    return repr(value[:limit])


class FormRefused(Exception):
    """A form the pages cannot read (status, what was wrong; never the value)."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem


class CsrfRefused(Exception):
    """A form without its session's CSRF token."""


async def read_form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused(415, "the body: a form is sent as application/x-www-form-urlencoded")
    body = await request.body()
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, encoding="utf-8",
            errors="strict", max_num_fields=MAX_FIELDS,
        )  # fmt: skip
    except UnicodeDecodeError:
        raise FormRefused(400, "the body: not UTF-8") from None
    except ValueError:
        raise FormRefused(400, f"the body: more than {MAX_FIELDS} fields") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise FormRefused(400, f"{shown(name, 40)}: sent twice")
        if any(0xD800 <= ord(c) <= 0xDFFF or c == "\x00" for c in value):
            raise FormRefused(400, f"{shown(name, 40)}: not text")
        form[name] = value
    return form


async def checked_form(request: Request, session: Session) -> dict[str, str]:
    """The form of a signed-in request, refused without the session's CSRF token."""
    form = await read_form(request)
    if not csrf_ok(session, form.get("csrf")):
        raise CsrfRefused()
    return form
