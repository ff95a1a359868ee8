"""Assessing bookings: for booking systems, one at a time or in batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from data_contracts.booking import BookingRecord
from serving.deps import BookingSystem, Decisions
from serving.errors import refuse
from serving.explain import choose_language
from serving.schemas import Assessment, BatchRequest, BatchResponse

router = APIRouter(tags=["assessments"])

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
    (assessment,) = decisions.assess([record], choose_language(accept_language))
    return Response(assessment.model_dump_json(), media_type="application/json")


@router.post("/v1/assessments:batch", response_model=BatchResponse)
async def assess_batch(
    batch: BatchRequest,
    who: BookingSystem,
    decisions: Decisions,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    """Assess up to ``max_batch`` bookings at once (all are audited before the answer)."""
    limit = decisions.settings.max_batch
    if len(batch.records) > limit:
        refuse("records", len(batch.records), f"at most {limit} records in one batch")
    seen: set[str] = set()
    for position, record in enumerate(batch.records):
        if record.booking_id in seen:
            refuse(f"records.{position}.booking_id", record.booking_id, "duplicated in batch")
        seen.add(record.booking_id)
    answer = BatchResponse(
        assessments=decisions.assess(batch.records, choose_language(accept_language))
    )
    return Response(answer.model_dump_json(), media_type="application/json")
