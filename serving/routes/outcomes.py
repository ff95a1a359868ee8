"""Outcomes: the support level a work-ability coordinator confirmed for the client of a decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException

from audit.store import AuditUnavailable, now
from data_contracts.booking import SupportLevel
from serving.decisions import find_decision
from serving.deps import Audit, Coordinator
from serving.errors import refuse
from serving.jsonbody import StrictJsonRoute
from serving.logs import log_event
from serving.schemas import OutcomeOut, OutcomeRequest

router = APIRouter(tags=["outcomes"], route_class=StrictJsonRoute)


@router.post("/v1/assessments/{decision_id}/outcome", status_code=201, response_model=OutcomeOut)
def record_outcome(
    decision_id: str, body: OutcomeRequest, who: Coordinator, audit: Audit
) -> OutcomeOut:
    """For work-ability coordinators: the support level the client was confirmed to need.
    Monitoring measures quality and fairness with these labels, and training can learn from
    them. A later call corrects an earlier one; both are kept."""
    decision = find_decision(audit, decision_id)  # 422 malformed id, 404 unknown
    received = now()
    confirmed = body.confirmed_at.astimezone(UTC) if body.confirmed_at else received
    if confirmed > received + timedelta(minutes=5):
        refuse("confirmed_at", confirmed.isoformat(), "is in the future")
    if confirmed < datetime.fromisoformat(decision["decided_at"]):
        refuse("confirmed_at", confirmed.isoformat(), "is before the decision was made")
    level = body.support_level if isinstance(body.support_level, SupportLevel) else None
    row = {
        "decision_id": decision_id,
        "needs_support": level is not None,
        "support_level": None if level is None else level.value,  # stored as the plain value
        "confirmed_at": confirmed,
        "received_at": received,
        "recorded_by": who.name,
    }
    try:
        audit.record_outcome(row)
    except AuditUnavailable:
        raise HTTPException(503, "the audit store cannot be written") from None
    log_event("outcome_recorded", decision_id=decision_id, needs_support=level is not None)
    return OutcomeOut(
        decision_id=decision_id,
        needs_support=level is not None,
        support_level=level,
        confirmed_at=confirmed.isoformat(),
        recorded_by=who.name,
    )
