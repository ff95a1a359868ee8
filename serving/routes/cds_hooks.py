"""CDS Hooks 2.0: discovery, the appointment-book hook and staff feedback on its cards."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from audit.store import AuditUnavailable, now
from data_contracts.booking import BookingRecord
from serving.deps import Audit, BookingSystem, Decisions
from serving.errors import BROKEN_HOOK_CONTEXT, contract_violation, pydantic_problems, refuse
from serving.explain import choose_language
from serving.interop import SERVICE_ID, HookRequestError, booking_record_from_hook, card, discovery
from serving.schemas import FeedbackRequest

router = APIRouter(tags=["cds-hooks"])


@router.get("/cds-services")
def cds_discovery() -> dict[str, Any]:
    """CDS Hooks discovery: one service for the appointment-book hook."""
    return discovery()


@router.post(f"/cds-services/{SERVICE_ID}")
def cds_appointment_book(
    body: dict[str, Any],
    who: BookingSystem,
    decisions: Decisions,
    accept_language: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The appointment-book hook: the booking context in, one card out."""
    try:
        record = BookingRecord.model_validate(booking_record_from_hook(body))
    except HookRequestError as exc:
        refuse(exc.field, exc.value, exc.problem)
    except ValidationError as exc:
        problems = pydantic_problems(exc.errors(), "record")
        raise HTTPException(422, contract_violation(problems, BROKEN_HOOK_CONTEXT)) from None
    language = choose_language(accept_language)
    (assessment,) = decisions.assess([record], language)
    return {"cards": [card(assessment.model_dump(mode="json"), language)]}


@router.post(f"/cds-services/{SERVICE_ID}/feedback")
def cds_feedback(body: FeedbackRequest, who: BookingSystem, audit: Audit) -> JSONResponse:
    """Whether staff accepted or overrode a card; recorded for oversight of automation bias."""
    rows = []
    for position, item in enumerate(body.feedback):
        if audit.get(item.card) is None:
            refuse(f"feedback.{position}.card", item.card, "no such decision (card uuid)")
        reason = item.overrideReasons[0].reason.code if item.overrideReasons else None
        rows.append(
            {
                "decision_id": item.card,
                "outcome": item.outcome,
                "override_reason": reason,
                "outcome_at": item.outcomeTimestamp,
                "received_at": now(),
            }
        )
    try:
        audit.record_feedback(rows)
    except AuditUnavailable:
        raise HTTPException(503, "the audit store cannot be written") from None
    return JSONResponse(status_code=200, content={"recorded": len(rows)})
