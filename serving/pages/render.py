"""Rendering a page: Jinja2 templates (autoescaped) in the reader's language, with the navigation
of their role and the CSRF token of their session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from data_contracts.identity import contains_personal_identity_code
from features.spec import LANGUAGES
from models.services import SUPPORT_LEVEL_TEXTS
from serving.explain import choose_language
from serving.pages.session import LANGUAGE_COOKIE, Session, is_tls
from serving.pages.texts import TEXTS
from serving.security import Role

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("serving.pages", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: the pages of each role: (path, text key)
NAVIGATION: dict[Role, list[tuple[str, str]]] = {
    Role.FRONT_DESK: [("/ui/assess", "nav_assess")],
    Role.AUDITOR: [
        ("/ui/decisions", "nav_decisions"),
        ("/ui/models", "nav_models"),
        ("/ui/monitoring", "nav_monitoring"),
    ],
    Role.COORDINATOR: [("/ui/outcomes", "nav_outcomes")],
    Role.BOOKING_SYSTEM: [],
}

#: what every page may load: itself only (no scripts at all, inline styles of its own)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


#: the query parameters a language link keeps (the decisions list's filters and page)
KEPT_PARAMETERS = frozenset(
    {
        "from",
        "until",
        "level",
        "segment",
        "support",
        "model",
        "system",
        "feedback",
        "outcome",
        "page",
    }
)


def language_of(request: Request) -> str:
    """?lang= (the switch), else the language cookie, else Accept-Language; Finnish by default."""
    for chosen in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if chosen is not None and chosen in LANGUAGES:
            return str(chosen)
    return choose_language(request.headers.get("accept-language"))


def when(value: Any) -> str:
    """A stored time as people read it: UTC, to the minute."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def percent(share: float, language: str, digits: int = 1) -> str:
    """A share as a percentage, with the decimal comma of Finnish and Swedish: 45,0 %."""
    text = f"{float(share) * 100:.{digits}f}"
    return (text.replace(".", ",") if language in ("fi", "sv") else text) + "\u00a0%"


def page(
    request: Request,
    template: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    language = language_of(request)

    def t(key: str) -> str:
        return TEXTS[key][language]

    here = request.url.path
    switch = {code: f"{here}?{_with_lang(request, code)}" for code in LANGUAGES}
    html = ENVIRONMENT.get_template(template).render(
        t=t,
        language=language,
        session=session,
        navigation=NAVIGATION[session.caller.role] if session else [],
        csrf=session.csrf if session else "",
        switch=switch,
        here=here,
        when=when,
        level_text=lambda level: SUPPORT_LEVEL_TEXTS[level][language],
        percent=lambda share, digits=1: percent(share, language, digits),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=365 * 86400, path="/", secure=is_tls(request),
            httponly=True, samesite="strict",
        )  # fmt: skip
    return response


def _with_lang(request: Request, code: str) -> str:
    from urllib.parse import urlencode

    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k in KEPT_PARAMETERS and len(v) <= 64 and not contains_personal_identity_code(v)
    ]
    return urlencode([*kept, ("lang", code)])
