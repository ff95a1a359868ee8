"""Signing in and out, and the front desk: a booking entered by hand, the advice as staff need it,
and their decision on it (the feedback store CDS Hooks cards write to)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from audit.store import AuditStore, AuditUnavailable, now
from data_contracts.booking import BookingRecord
from data_contracts.contract import BOOKING_COLUMNS
from data_contracts.identity import contains_personal_identity_code
from serving.cds_hooks.feedback import FeedbackFull, check_room
from serving.cds_hooks.texts import OVERRIDE_REASONS
from serving.decisions import DecisionMaker
from serving.pages.fields import form_fields
from serving.pages.fields import read_form as record_of
from serving.pages.forms import checked_form, read_form, shown
from serving.pages.render import NAVIGATION, language_of, page
from serving.pages.session import (
    clear_session,
    is_tls,
    issue,
    read,
    set_session,
    signed_in,
)
from serving.security import Role, hash_key

router = APIRouter(include_in_schema=False)
SIGN_IN_COOKIE = "kykytutka_sign_in"  # the sign-in form's own CSRF token (no session yet)

PROBLEMS = {
    "required": {"fi": "Pakollinen tieto.", "sv": "Obligatorisk uppgift.", "en": "Required."},
    "range": {
        "fi": "Anna kokonaisluku väliltä {low}–{high}.",
        "sv": "Ange ett heltal mellan {low} och {high}.",
        "en": "Enter a whole number from {low} to {high}.",
    },
    "identity": {
        "fi": "Älä kirjoita henkilötunnusta: käytä pseudonyymiä tunnistetta.",
        "sv": "Skriv inte personbeteckningen: använd en pseudonym referens.",
        "en": "Do not enter a personal identity code: use a pseudonymous reference.",
    },
    "check": {"fi": "Tarkista arvo.", "sv": "Kontrollera värdet.", "en": "Check the value."},
}


@router.get("/ui")
def home(request: Request) -> Response:
    session = read(request)
    if session is None:
        return RedirectResponse("/ui/sign-in", 303)
    pages = NAVIGATION[session.caller.role]
    if not pages:
        return page(request, "message.html", session, 403, message="no_pages")
    return RedirectResponse(pages[0][0], 303)


@router.get("/ui/sign-in")
def sign_in_form(request: Request) -> HTMLResponse:
    return _sign_in_page(request, None, 200)


def _sign_in_page(request: Request, problem: str | None, status: int) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    signed_out = request.query_params.get("signed-out") == "1"
    response = page(
        request, "sign_in.html", None, status, token=token, problem=problem, signed_out=signed_out
    )
    response.set_cookie(
        SIGN_IN_COOKIE, token, max_age=3600, path="/ui/sign-in", secure=is_tls(request),
        httponly=True, samesite="strict",
    )  # fmt: skip
    return response


@router.post("/ui/sign-in")
async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    expected = request.cookies.get(SIGN_IN_COOKIE)
    sent = form.get("csrf", "").encode("utf-8", "replace")
    if not expected or not secrets.compare_digest(expected.encode("utf-8", "replace"), sent):
        return _sign_in_page(request, "csrf", 403)
    key = form.get("key", "").strip()
    caller = request.app.state.keys.identify(key) if 0 < len(key) <= 200 else None
    if caller is None:
        return _sign_in_page(request, "wrong_key", 401)
    value, _ = issue(request.app.state.settings, hash_key(key))
    response = RedirectResponse("/ui", 303)
    set_session(response, request, value)
    response.delete_cookie(SIGN_IN_COOKIE, path="/ui/sign-in")
    return response


@router.post("/ui/sign-out")
async def sign_out(request: Request) -> Response:
    session = signed_in(request)
    await checked_form(request, session)
    response = RedirectResponse("/ui/sign-in?signed-out=1", 303)
    clear_session(response, request)
    return response


@router.get("/ui/assess")
def booking_form(request: Request) -> HTMLResponse:
    session = signed_in(request, Role.FRONT_DESK)
    return _form_page(request, session, _defaults(), {}, 200)


def _defaults() -> dict[str, str]:
    stamp = datetime.now(UTC).replace(microsecond=0)
    return {
        "booking_id": f"UI-{uuid.uuid4().hex[:12]}",
        "booking_time": stamp.isoformat().replace("+00:00", "Z"),
    }


def _form_page(
    request: Request, session: Any, values: dict[str, str], problems: dict[str, str], status: int
) -> HTMLResponse:
    language = language_of(request)
    return page(
        request, "assess.html", session, status,
        fields=form_fields(language), values=values, problems=problems,
    )  # fmt: skip


@router.post("/ui/assess")
async def assess(request: Request) -> HTMLResponse:
    session = signed_in(request, Role.FRONT_DESK)
    form = await checked_form(request, session)
    language = language_of(request)
    values = {k: v for k, v in form.items() if k != "csrf"}
    unknown = sorted(set(values) - set(BOOKING_COLUMNS))
    if unknown:
        detail = f"{shown(unknown[0], 40)}: not a field of the booking form"
        return page(request, "message.html", session, 422, message="bad_input", detail=detail)
    try:
        record = BookingRecord.model_validate(record_of(values))
    except ValidationError as error:
        problems = _problems(error, language)
        for name, value in values.items():  # never shown again, not even to its sender
            if contains_personal_identity_code(value):
                values[name] = ""
                problems[name] = PROBLEMS["identity"][language]
        return _form_page(request, session, values, problems, 422)
    state = request.app.state
    maker = DecisionMaker(state.loaded, state.settings, state.audit, state.metrics)
    if state.loaded is None:
        return page(request, "message.html", session, 503, message="no_model")
    try:
        (assessment,) = await maker.assess([record], language, session.caller.name)
    except HTTPException:  # the audit store cannot be written: no decision was made
        return page(request, "message.html", session, 503, message="unavailable")
    return page(
        request, "answer.html", session, 201,
        assessment=assessment, reasons_codes=OVERRIDE_REASONS, saved=None,
    )  # fmt: skip


def _problems(error: ValidationError, language: str) -> dict[str, str]:
    from data_contracts.contract import FIELDS_BY_NAME

    found: dict[str, str] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        if name not in FIELDS_BY_NAME or name in found:
            continue
        field = FIELDS_BY_NAME[name]
        if item.get("input") is None and not field.nullable:
            kind = "required"
        elif "identity code" in item.get("msg", ""):
            kind = "identity"
        elif field.kind == "integer" and field.minimum is not None:
            kind = "range"
        else:
            kind = "check"
        low, high = f"{field.minimum or 0:g}", f"{field.maximum or 0:g}"
        found[name] = PROBLEMS[kind][language].format(low=low, high=high)
    return found


@router.post("/ui/decisions/{decision_id}/feedback")
async def feedback(request: Request, decision_id: str) -> HTMLResponse:
    """The front desk's decision on its own advice: accepted, or overridden with a reason."""
    session = signed_in(request, Role.FRONT_DESK)
    form = await checked_form(request, session)
    audit: AuditStore = request.app.state.audit
    row = _own_decision(audit, decision_id, session.caller.name)
    if row is None:
        return page(request, "message.html", session, 404, message="not_found")
    outcome = form.get("outcome")
    reason = form.get("override_reason") or None
    if outcome not in ("accepted", "overridden") or (
        outcome == "overridden" and reason not in OVERRIDE_REASONS
    ):
        return page(request, "message.html", session, 422, message="feedback_missing_reason")
    try:  # the bound of CDS Hooks feedback: on one assessment, a decision and its corrections
        check_room([row["decision_id"]], audit.feedback_counts)
    except FeedbackFull:
        return page(request, "message.html", session, 409, message="feedback_full")
    except AuditUnavailable:
        return page(request, "message.html", session, 503, message="unavailable")
    stamp = now()
    entry = {
        "decision_id": row["decision_id"],  # as stored, not as the path spelt it (its case)
        "outcome": outcome,
        "override_reason": reason if outcome == "overridden" else None,
        "outcome_at": stamp,
        "received_at": stamp,
        "recorded_by": session.caller.name,
    }
    try:
        await audit.arecord_feedback(
            [entry], timeout=request.app.state.settings.audit_timeout_seconds
        )
    except AuditUnavailable:
        return page(request, "message.html", session, 503, message="unavailable")
    return page(request, "message.html", session, 200, message="feedback_saved")


def _own_decision(audit: AuditStore, decision_id: str, made_by: str) -> dict[str, Any] | None:
    try:
        decision_id = str(uuid.UUID(decision_id))
    except ValueError:
        return None
    row = audit.get(decision_id)
    return row if row is not None and row.get("made_by") == made_by else None
