"""The coordinator's page: the alerted bookings still awaiting a confirmed outcome
(pseudonymous: no client reference, the decision's id only), and the outcome recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from audit.schema import decisions, outcomes
from audit.store import AuditStore, AuditUnavailable, now
from data_contracts.booking import SupportLevel
from serving.pages.forms import checked_form, shown
from serving.pages.render import page
from serving.pages.session import Session, signed_in
from serving.security import Role

router = APIRouter(include_in_schema=False)
SHOWN = 200
CHOICES = ("none", *(level.value for level in SupportLevel))


@router.get("/ui/outcomes")
def awaiting(request: Request) -> HTMLResponse:
    session = signed_in(request, Role.COORDINATOR)
    saved = "1" if request.query_params.get("saved") == "1" else None
    return _page(request, session, saved, 200)


def _page(request: Request, session: Session, saved: str | None, status: int) -> HTMLResponse:
    audit: AuditStore = request.app.state.audit
    has_outcome = sa.exists().where(outcomes.c.decision_id == decisions.c.decision_id)
    query = (
        sa.select(
            decisions.c.decision_id, decisions.c.decided_at, decisions.c.alert_probability,
            decisions.c.segment_id,
            decisions.c.output[("recommendation", "support_level")].as_string().label("support"),
        )
        .where(decisions.c.alert.is_(True), ~has_outcome)
        .order_by(decisions.c.seq)
        .limit(SHOWN)
    )  # fmt: skip
    try:
        with audit.engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(query)]
    except sa.exc.SQLAlchemyError:
        return page(request, "message.html", session, 503, message="unavailable")
    return page(
        request,
        "outcomes.html",
        session,
        status,
        rows=rows,
        choices=CHOICES,
        saved=saved,
    )


@router.post("/ui/outcomes/{decision_id}")
async def confirm(request: Request, decision_id: str) -> Response:
    session = signed_in(request, Role.COORDINATOR)
    form = await checked_form(request, session)
    level = form.get("support_level", "")
    audit: AuditStore = request.app.state.audit
    try:
        decision_id = str(uuid.UUID(decision_id))
        decision = audit.get(decision_id)
    except ValueError:
        decision = None
    except AuditUnavailable:
        return page(request, "message.html", session, 503, message="unavailable")
    if decision is None:
        return page(request, "message.html", session, 404, message="not_found")
    if level not in CHOICES:
        detail = f"support_level: {shown(level)} is not one of {', '.join(CHOICES)}"
        return page(request, "message.html", session, 422, message="bad_input", detail=detail)
    received = now()
    decided = decision["decided_at"]
    if isinstance(decided, datetime) and decided.tzinfo is None:
        decided = decided.replace(tzinfo=UTC)
    row = {
        "decision_id": decision_id,
        "needs_support": level != "none",
        "support_level": None if level == "none" else level,
        "confirmed_at": max(received, decided) if isinstance(decided, datetime) else received,
        "received_at": received,
        "recorded_by": session.caller.name,
    }
    try:
        await audit.arecord_outcome(row, timeout=request.app.state.settings.audit_timeout_seconds)
    except AuditUnavailable:
        return page(request, "message.html", session, 503, message="unavailable")
    return RedirectResponse("/ui/outcomes?saved=1", 303)  # a reload does not send it again
