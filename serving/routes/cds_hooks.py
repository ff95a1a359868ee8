"""CDS Hooks 2.0: discovery, the appointment-book hook, staff feedback on its cards, and the model
card a card's source links to."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from audit.store import AuditUnavailable
from data_contracts.booking import BookingRecord
from models.registry import MODEL_NAME
from serving.cds_hooks.cards import CardOffer, card, issues_card
from serving.cds_hooks.feedback import (
    FeedbackFull,
    UnknownCard,
    check_room,
    feedback_rows,
    read_feedback,
)
from serving.cds_hooks.model_card import CardNotFound, CardUnavailable, model_card
from serving.cds_hooks.recording import KeepingHookCall
from serving.deps import Audit, BookingSystem, Decisions, Loaded
from serving.errors import BROKEN_HOOK_CONTEXT, contract_violation, pydantic_problems
from serving.explain import choose_language
from serving.interop import (
    SERVICE_ID,
    Malformed,
    PrefetchMissing,
    contract_field,
    discovery,
    read_hook_call,
)
from serving.jsonbody import StrictJsonRoute

router = APIRouter(tags=["cds-hooks"], route_class=StrictJsonRoute)

MALFORMED_CALL = "the CDS Hooks call does not have the shape the specification gives it"
MALFORMED_FEEDBACK = "the CDS Hooks feedback does not have the shape the specification gives it"


@router.get("/cds-services")
def cds_discovery() -> dict[str, Any]:
    """CDS Hooks discovery: one service for the appointment-book hook."""
    return discovery()


@router.post(f"/cds-services/{SERVICE_ID}")
async def cds_appointment_book(
    body: dict[str, Any],
    request: Request,
    who: BookingSystem,
    decisions: Decisions,
    accept_language: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The appointment-book hook: the booking context in; a card when the indicators raise an
    alert, no card otherwise. 412 without the prefetched booking context."""
    try:
        call = read_hook_call(body)
    except Malformed as exc:
        raise HTTPException(422, contract_violation(exc.problems, MALFORMED_CALL)) from None
    except PrefetchMissing as exc:
        raise HTTPException(412, str(exc)) from None
    if call is None:
        return {"cards": []}  # the client has no booking context for this patient
    try:
        record = BookingRecord.model_validate(call.record)
    except ValidationError as exc:
        problems = [
            (contract_field(field), value, problem)
            for field, value, problem in pydantic_problems(exc.errors(), "record")
        ]
        raise HTTPException(422, contract_violation(problems, BROKEN_HOOK_CONTEXT)) from None
    language = choose_language(accept_language)
    offer = CardOffer.new()
    keeping = replace(decisions, audit=KeepingHookCall(decisions.audit, call.kept, offer))
    (assessment,) = await keeping.assess([record], language, who.name)
    answered = assessment.model_dump(mode="json")
    if not issues_card(answered):
        return {"cards": []}
    source = request.url_for("cds_model_card").include_query_params(
        version=answered["model"]["version"]
    )
    consented = record.consent_multi_agency
    return {"cards": [card(answered, language, offer, str(source), consented)]}


@router.post(f"/cds-services/{SERVICE_ID}/feedback")
def cds_feedback(body: dict[str, Any], who: BookingSystem, audit: Audit) -> JSONResponse:
    """Whether staff accepted or overrode a card; recorded for oversight of automation bias. At
    most 50 entries a request (``MAX_FEEDBACK``), one for each card; a later request about a card
    corrects an earlier one (both are kept). A card takes at most 10 feedback entries
    (``MAX_FEEDBACK_PER_DECISION``), the first and its corrections: past them, 409 and nothing
    of the request is recorded."""

    def own(decision_id: str) -> dict[str, Any] | None:
        # Only the caller's own cards: another key's decision reads as none at all.
        row = audit.get(decision_id)
        return row if row is not None and row.get("made_by") == who.name else None

    try:
        rows = feedback_rows(read_feedback(body), own)
    except Malformed as exc:
        raise HTTPException(422, contract_violation(exc.problems, MALFORMED_FEEDBACK)) from None
    except UnknownCard as exc:
        raise HTTPException(404, str(exc)) from None
    # Before the write, so that a request past the bound records nothing of itself.
    try:
        check_room([row["decision_id"] for row in rows], audit.feedback_counts)
    except FeedbackFull as exc:
        raise HTTPException(409, str(exc)) from None
    rows = [{**row, "recorded_by": who.name} for row in rows]
    try:
        audit.record_feedback(rows)
    except AuditUnavailable:
        raise HTTPException(503, "the audit store cannot be written") from None
    return JSONResponse(status_code=200, content={"recorded": len(rows)})


# A page for people (the card's source.url opens it in the EHR user's browser, without the API
# key), not an API operation: left out of the OpenAPI document.
@router.get(f"/cds-services/{SERVICE_ID}/model-card", include_in_schema=False)
def cds_model_card(
    loaded: Loaded,
    version: Annotated[str | None, Query(pattern=r"^[1-9][0-9]{0,8}$")] = None,
) -> Response:
    """The model card of a registered model version (default: the one serving now), Markdown."""
    if version is None and loaded is None:
        raise HTTPException(503, "no model loaded yet")
    name = loaded.name if loaded is not None else MODEL_NAME
    try:
        text = model_card(name, version or (loaded.version if loaded is not None else ""))
    except CardNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except CardUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    return Response(text, media_type="text/markdown; charset=utf-8")
