"""Signing in to the pages: a signed session cookie, CSRF tokens, and who may see which page.

A key of any role signs in (the same keys as the API, ``kykytutka apikey``); the cookie holds the
key's SHA-256 (never the key), a CSRF token and an expiry, signed with HMAC-SHA-256 under a secret
derived from the service's pseudonym key. It is HttpOnly, SameSite=Strict, and Secure when the
page was served over TLS. Each request looks the key up again: a revoked key's session ends at
once. Every form carries the session's CSRF token and is refused without it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from serving.security import Caller, KeyRing, Role
from serving.settings import ServiceSettings

COOKIE = "kykytutka_session"
LANGUAGE_COOKIE = "kykytutka_language"
SESSION_SECONDS = 8 * 3600  # a working day
MAX_COOKIE = 1024


@dataclass(frozen=True)
class Session:
    caller: Caller
    digest: str
    csrf: str
    expires: int


class SignInRequired(Exception):
    """No valid session: the page sends the browser to the sign-in page."""


class Forbidden(Exception):
    """Signed in, in a role that may not see this page (403)."""


def _secret(settings: ServiceSettings) -> bytes:
    key = settings.pseudonym_key.get_secret_value().encode()
    return hmac.new(key, b"kykytutka pages session 1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(settings: ServiceSettings, digest: str) -> tuple[str, str]:
    """A new session cookie's value for the key with ``digest``, and its CSRF token."""
    csrf = secrets.token_urlsafe(24)
    body = _b64(
        json.dumps({"d": digest, "c": csrf, "e": int(time.time()) + SESSION_SECONDS}).encode()
    )
    signature = _b64(hmac.new(_secret(settings), body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}", csrf


def read(request: Request) -> Session | None:
    """The request's valid session, or None (no cookie, forged, expired or revoked key)."""
    value = request.cookies.get(COOKIE)
    if not value or len(value) > MAX_COOKIE or value.count(".") != 1 or not value.isascii():
        return None
    body, signature = value.split(".")
    settings: ServiceSettings = request.app.state.settings
    expected = _b64(hmac.new(_secret(settings), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data: Any = json.loads(_unb64(body))
        digest, csrf, expires = str(data["d"]), str(data["c"]), int(data["e"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires < time.time():
        return None
    keys: KeyRing = request.app.state.keys
    caller = keys.by_digest(digest)
    return None if caller is None else Session(caller, digest, csrf, expires)


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        COOKIE, value, max_age=SESSION_SECONDS, path="/", secure=is_tls(request),
        httponly=True, samesite="strict",
    )  # fmt: skip


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path="/", secure=is_tls(request), httponly=True, samesite="strict"
    )


def csrf_ok(session: Session, token: str | None) -> bool:
    if token is None:
        return False
    return hmac.compare_digest(session.csrf.encode(), token.encode("utf-8", "replace"))


def signed_in(request: Request, *roles: Role) -> Session:
    """The session of a request to a page open to ``roles``: SignInRequired without one,
    Forbidden in another role."""
    session = read(request)
    if session is None:
        raise SignInRequired()
    if roles and session.caller.role not in roles:
        raise Forbidden()
    return session
