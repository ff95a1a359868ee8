"""Web pages for the front desk, coordinators and auditors, served by the same service.

Server-rendered HTML (Jinja2, autoescaped), no scripts, nothing loaded from outside the service;
charts are SVG drawn on the server (``serving.pages.charts``). Sign-in with a key of the matching
role and a session cookie (``serving.pages.session``); every form carries a CSRF token.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.pages.forms import CsrfRefused, FormRefused
from serving.pages.render import page
from serving.pages.session import Forbidden, SignInRequired, read


def install_pages(app: FastAPI) -> None:
    from serving.pages import auditor, coordinator, frontdesk, registry_pages

    for module in (frontdesk, auditor, coordinator, registry_pages):
        app.include_router(module.router)
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(CsrfRefused, _csrf)
    app.add_exception_handler(FormRefused, _refused)
    app.add_exception_handler(StarletteHTTPException, _not_routed)


async def _not_routed(request: Request, exc: Exception) -> Response:
    """The router's own 404 and 405 under /ui as a page; elsewhere FastAPI's JSON answer."""
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith("/ui"):
        return await http_exception_handler(request, exc)
    message = "not_found" if exc.status_code == 404 else "bad_input"
    response = page(request, "message.html", read(request), exc.status_code, message=message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _sign_in(request: Request, _: Exception) -> Response:
    return RedirectResponse("/ui/sign-in", 303)


async def _forbidden(request: Request, _: Exception) -> HTMLResponse:
    return page(request, "message.html", read(request), 403, message="forbidden")


async def _csrf(request: Request, _: Exception) -> HTMLResponse:
    return page(request, "message.html", read(request), 403, message="csrf")


async def _refused(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, FormRefused)
    return page(
        request, "message.html", read(request), exc.status, message="bad_input", detail=exc.problem
    )
