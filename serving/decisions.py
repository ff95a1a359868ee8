"""Decisions: booking records scored into assessments, each audited before it is answered; and a
stored decision read back."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fastapi import HTTPException

from audit.store import AuditStore, AuditUnavailable, now, pseudonymise
from data_contracts.booking import CONTRACT_VERSION, BookingRecord
from models.packaged import AlertLevel, RecordAssessment
from models.services import service_path
from models.support import Recommendation
from serving.errors import refuse
from serving.explain import reasons, unanswered
from serving.logs import log_event
from serving.metrics import Metrics
from serving.models import LoadedModel
from serving.schemas import (
    Assessment,
    ModelOut,
    ReasonOut,
    RecommendationOut,
    SegmentOut,
    UnansweredOut,
)
from serving.settings import ServiceSettings


@dataclass(frozen=True, slots=True)
class DecisionMaker:
    """What deciding needs, read once per request (``serving.deps.Decisions``): the request keeps
    this model even if the champion is swapped meanwhile."""

    loaded: LoadedModel | None
    settings: ServiceSettings
    audit: AuditStore
    metrics: Metrics

    async def assess(
        self, records: list[BookingRecord], language: str, made_by: str
    ) -> list[Assessment]:
        """One assessment per record, all written to the audit store before any is returned; 503
        when no model is loaded or the store cannot be written within the audit timeout (then no
        decision was made). ``made_by``: the name of the API key that asked (accountability).

        The write is awaited, not run on the event loop: a locked or slow store holds up only the
        requests that wait for it, never /healthz nor the other requests' scoring."""
        loaded = self.loaded
        if loaded is None:
            raise HTTPException(503, "no model loaded yet")
        dumped = [record.model_dump(mode="json") for record in records]
        numeric = [record.model_dump() for record in records]
        results = loaded.model.explain_records(numeric)
        decided_at = now()
        key = self.settings.pseudonym_key.get_secret_value()
        assessments, rows = [], []
        for record, values, result in zip(dumped, numeric, results, strict=True):
            assessment = self._assessment(loaded, record, values, result, language, decided_at)
            inputs = {**record, "client_ref": None}
            output = assessment.model_dump(mode="json")
            output["contributions"] = result.contributions
            recommendation = result.recommendation
            output["recommendation"].update(
                contributions=recommendation.contributions,
                base_value=recommendation.base_value,
                log_odds=recommendation.log_odds,  # base value plus contributions
                compared=[level.value for level in recommendation.compared],
            )
            rows.append(
                {
                    "decision_id": assessment.decision_id,
                    "decided_at": decided_at,
                    "client_ref_hash": pseudonymise(record["client_ref"], key),
                    "made_by": made_by,
                    "booking_id": record["booking_id"],
                    "model_name": loaded.name,
                    "model_version": loaded.version,
                    "contract_version": CONTRACT_VERSION,
                    "alert_probability": result.probability,
                    "alert": assessment.alert,
                    "segment_id": assessment.segment.id,
                    "inputs": inputs,
                    "output": output,
                }
            )
            assessments.append(assessment)
        try:
            # Before the answer: no decision goes unlogged.
            await self.audit.arecord(rows, self.settings.audit_timeout_seconds)
        except AuditUnavailable as exc:
            log_event("audit_unavailable", logging.ERROR, error=str(exc)[:200])
            raise HTTPException(
                503, "the audit store cannot be written; no decision was made"
            ) from None
        for assessment in assessments:
            self.metrics.assessments.labels(assessment.segment.id).inc()
            if assessment.alert:
                self.metrics.alerts.labels(assessment.segment.id).inc()
            log_event(
                "assessment",
                decision_id=assessment.decision_id,
                model_version=loaded.version,
                alert=assessment.alert,
                segment=assessment.segment.id,
                recommendation=assessment.recommendation.support_level.value,
            )
        return assessments

    def _assessment(
        self,
        loaded: LoadedModel,
        record: dict[str, Any],
        values: dict[str, Any],
        result: RecordAssessment,
        language: str,
        decided_at: datetime,
    ) -> Assessment:
        model = loaded.model
        segment = model.segmentation.segments[result.segment_id]
        probability = np.array([result.probability])
        top = self.settings.top_reasons
        recommended = result.recommendation
        consented = bool(values.get("consent_multi_agency"))
        steps = client_steps(segment.service_path, recommended.level.value)
        return Assessment(
            decision_id=str(uuid.uuid4()),
            booking_id=record["booking_id"],
            decided_at=decided_at.isoformat(),
            alert=bool(model.alerted(np.asarray(result.probability))),
            alert_level=AlertLevel(model.alert_level(probability)[0]),
            alert_probability=round(result.probability, 6),
            segment=SegmentOut(
                id=segment.id,
                name=segment.name(language),
                name_fi=segment.name_fi,
                name_sv=segment.name_sv,
                name_en=segment.name_en,
                support_level=segment.support_level,
                service_path=service_path(steps, consented, language),
                service_steps=steps,
            ),
            recommendation=RecommendationOut(
                support_level=recommended.level,
                rule=recommended.rule,
                probabilities={
                    Recommendation(level): round(value, 6)
                    for level, value in recommended.probabilities.items()
                },
                reasons=[
                    ReasonOut(**r)
                    for r in reasons(recommended.contributions, values, language, top)
                ],
            ),
            reasons=[ReasonOut(**r) for r in reasons(result.contributions, values, language, top)],
            unanswered=[UnansweredOut(**u) for u in unanswered(values, language)],
            base_value=result.base_value,
            raw_score=result.raw_score,
            language=language,
            model=ModelOut(
                name=loaded.name, version=loaded.version, contract_version=CONTRACT_VERSION
            ),
        )


#: the step that leads a client's path at each recommended level
LEVEL_STEPS = {"team": "team", "consultation": "network_consultation"}


def client_steps(segment_steps: list[str], level: str) -> list[str]:
    """The segment's path, led by this client's recommended level instead of the segment's."""
    rest = [step for step in segment_steps if step not in LEVEL_STEPS.values()]
    return ([LEVEL_STEPS[level]] if level in LEVEL_STEPS else []) + rest


def find_decision(
    audit: AuditStore, decision_id: str, made_by: str | None = None
) -> dict[str, Any]:
    """The stored decision: 422 for a malformed id, 404 for an unknown one, and 404 too when
    ``made_by`` is given and another key made it (a booking system sees only its own decisions,
    and cannot tell another's from none)."""
    try:
        uuid.UUID(decision_id)
    except ValueError:
        refuse("decision_id", decision_id, "not a decision id (UUID)")
    row = audit.get(decision_id)
    if row is None or (made_by is not None and row.get("made_by") != made_by):
        raise HTTPException(404, f"no decision {decision_id}")
    row["decided_at"] = utc_iso(row["decided_at"])
    return row


def utc_iso(value: Any) -> Any:
    """A stored time as ISO 8601 with its zone; anything else unchanged."""
    # Times are stored in UTC; SQLite hands them back without a zone, so put it back.
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value
