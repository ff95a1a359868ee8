"""Assessing bookings: for booking systems, one at a time or in batches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response

from data_contracts.booking import BookingRecord
from serving.deps import BookingSystem, Decisions
from serving.errors import refuse
from serving.explain import choose_language
from serving.jsonbody import StrictJsonRoute
from serving.schemas import Assessment, BatchRequest, BatchResponse

router = APIRouter(tags=["assessments"], route_class=StrictJsonRoute)

# The handlers are async on purpose: the work is ~2 ms of CPU, cheaper inline than a hop to the
# thread pool; answers are serialised once, without re-validating the response model.


@router.post("/v1/assessments", response_model=Assessment)
async def assess(
    record: BookingRecord,
    who: BookingSystem,
    decisions: Decisions,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    """Assess one booking: alert, level, probability, segment and the top reasons."""
    (assessment,) = await decisions.assess([record], choose_language(accept_language), who.name)
    return Response(assessment.model_dump_json(), media_type="application/json")


async def batch_size(request: Request) -> None:
    """A batch of more than ``max_batch`` records is refused before any record is validated:
    a megabyte of ``{}`` would otherwise be a million errors. A dependency, so that it runs
    after the credentials are checked and before FastAPI validates the body."""
    body: Any = await request.json()  # read once: FastAPI has read it already
    records = body.get("records") if isinstance(body, dict) else None
    limit = request.app.state.settings.max_batch
    if isinstance(records, list) and len(records) > limit:
        refuse("records", records, f"at most {limit} records in one batch")


@router.post("/v1/assessments:batch", response_model=BatchResponse)
async def assess_batch(
    who: BookingSystem,
    _size: Annotated[None, Depends(batch_size)],
    batch: BatchRequest,
    decisions: Decisions,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    """Assess up to ``max_batch`` bookings at once (``KYKYTUTKA_MAX_BATCH``, 1,000 by default;
    all are audited before the answer). Unknown members are refused."""
    seen: set[str] = set()
    for position, record in enumerate(batch.records):
        if record.booking_id in seen:
            refuse(f"records.{position}.booking_id", record.booking_id, "duplicated in batch")
        seen.add(record.booking_id)
    answer = BatchResponse(
        assessments=await decisions.assess(
            batch.records, choose_language(accept_language), who.name
        )
    )
    return Response(answer.model_dump_json(), media_type="application/json")
