"""Reading decisions back: for auditors in full, and as FHIR for booking systems too."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving.decisions import find_decision, utc_iso
from serving.deps import Audit, Auditor, BookingSystemOrAuditor
from serving.fhir import FHIR_JSON
from serving.interop import risk_assessment
from serving.security import Role

router = APIRouter(tags=["audit"])


@router.get("/v1/assessments/{decision_id}")
def read_decision(decision_id: str, who: Auditor, audit: Audit) -> dict[str, Any]:
    """For auditors: what was decided, from which inputs, by which model, and why, and what
    staff did with it (CDS Hooks feedback)."""
    row = find_decision(audit, decision_id)
    row["feedback"] = [
        {**f, "outcome_at": utc_iso(f["outcome_at"]), "received_at": utc_iso(f["received_at"])}
        for f in audit.feedback_for(decision_id)
    ]
    row["outcomes"] = [
        {
            **{k: v for k, v in o.items() if k != "id"},
            "confirmed_at": utc_iso(o["confirmed_at"]),
            "received_at": utc_iso(o["received_at"]),
        }
        for o in audit.outcomes_for(decision_id)
    ]
    return row


@router.get("/v1/assessments/{decision_id}/fhir")
def read_decision_as_fhir(
    decision_id: str, who: BookingSystemOrAuditor, audit: Audit
) -> JSONResponse:
    """The decision as an HL7 FHIR (R4B) RiskAssessment. A booking system reads only the
    decisions it asked for (another's is 404); an auditor reads every one."""
    own = who.name if who.role is Role.BOOKING_SYSTEM else None
    row = find_decision(audit, decision_id, made_by=own)
    return JSONResponse(risk_assessment(row), media_type=FHIR_JSON)
