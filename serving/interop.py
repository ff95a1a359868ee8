"""Speaking the booking systems' language: CDS Hooks 2.0 and HL7 FHIR.

The booking context reaches the ``appointment-book`` hook as a FHIR QuestionnaireResponse in the
prefetch (key ``bookingContext``, or a searchset Bundle holding it) whose item ``linkId``s are the
contract's field names; the patient id and the proposed Appointment supply the client reference,
booking id and time. Answers go back as CDS cards (``serving.cds_hooks.cards``); a decision can
also be read as a FHIR ``RiskAssessment`` (``serving.fhir``).

The service uses prefetched data only: it does not fetch from the client's ``fhirServer``. Without
the ``bookingContext`` key it answers 412, as CDS Hooks 2.0 says a service that cannot obtain the
data it needs does ("Prefetch Template"); with the key set to null, or a search Bundle without a
QuestionnaireResponse, the client has no booking context for the patient and the answer is no
card (``{"cards": []}``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from audit.store import now
from data_contracts import code_free_reference
from data_contracts.booking import BOOKING_ID_PATTERN, BookingRecord
from serving.cds_hooks.schemas import (
    HookRequest,
    Item,
    Malformed,
    QuestionnaireResponse,
    Reference,
    SearchBundle,
    refused,
    validated,
)
from serving.fhir import risk_assessment

__all__ = [
    "PREFETCH_KEY",
    "QUESTIONNAIRE",
    "SERVICE_ID",
    "HookCall",
    "Malformed",
    "PrefetchMissing",
    "contract_field",
    "discovery",
    "read_hook_call",
    "risk_assessment",
]

SERVICE_ID = "kykytutka-work-ability"
QUESTIONNAIRE = "urn:kykytutka:questionnaire:booking-context"
PREFETCH_KEY = "bookingContext"
PREFETCHED = f"prefetch.{PREFETCH_KEY}"
#: the booking record's fields the hook context fills, never the questionnaire
FROM_CONTEXT = {
    "client_ref": "context.patientId",
    "booking_id": "context.appointments.entry.0.resource.id",
    "booking_time": "context.appointments.entry.0.resource.created",
}
_PATIENT = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-\.]{1,64})(?:/_history/[^/]+)?$")
_SECRET = frozenset({"fhirAuthorization"})


class PrefetchMissing(LookupError):
    """The booking context was not prefetched, and this service does not fetch it: 412."""


def discovery() -> dict[str, Any]:
    return {
        "services": [
            {
                "hook": "appointment-book",
                "id": SERVICE_ID,
                "title": "Kykytutka: work-ability support indicators",
                "description": (
                    "At booking, checks whether the indicators raise an alert that the client may "
                    "need work-ability support and suggests booking the initial service, with the "
                    "reasons, a client profile, a support level and a service path. Advisory: "
                    "staff decide."
                ),
                "prefetch": {
                    PREFETCH_KEY: (
                        "QuestionnaireResponse?patient={{context.patientId}}"
                        f"&questionnaire={QUESTIONNAIRE}&_sort=-authored&_count=1"
                    )
                },
                "usageRequirements": (
                    f"prefetch.{PREFETCH_KEY} is required: the patient's QuestionnaireResponse "
                    f"to {QUESTIONNAIRE} (or the searchset Bundle of the template), whose item "
                    "linkIds are the booking-record contract's field names (`kykytutka contract`, "
                    "docs/contract.md). This service does not fetch from fhirServer: without the "
                    "prefetch it answers 412."
                ),
            }
        ]
    }


@dataclass(frozen=True)
class HookCall:
    """An appointment-book call read: the booking record (not yet checked against the contract)
    and what the audit row keeps of the call (no patient id, no token)."""

    record: dict[str, Any]
    kept: dict[str, Any]


def read_hook_call(body: Any) -> HookCall | None:
    """The call as a booking record; None when the client has no booking context for the patient.
    Malformed (422) names the field of any shape or consistency problem; PrefetchMissing: 412."""
    request = validated(HookRequest, body, hide=_SECRET)
    if request.fhirAuthorization is not None and request.fhirServer is None:
        raise refused("fhirServer", None, "required when fhirAuthorization is given")
    context = request.context  # its ids hold no personal identity code (schemas.FhirId)
    for position, entry in enumerate(context.appointments.entry):
        where = f"context.appointments.entry.{position}.resource"
        if entry.resource.status != "proposed":
            raise refused(
                f"{where}.status", entry.resource.status, "the hook books proposed appointments"
            )
        for index, participant in enumerate(entry.resource.participant or []):
            _same_patient(
                participant.actor, context.patientId, f"{where}.participant.{index}.actor"
            )
    response = _booking_context(request)
    if response is None:
        return None
    record = _answers(response.item or [], PREFETCHED)
    appointment = context.appointments.entry[0].resource
    created = appointment.created
    record["client_ref"] = client_ref_for(context.patientId)
    record["booking_id"] = booking_id_for(appointment.id)
    # a date counts as its midnight (UTC); a year or a month says too little: the call's time
    record["booking_time"] = created if created and len(created) >= 10 else now().isoformat()
    base = str(request.fhirServer).rstrip("/") if request.fhirServer else None

    def reference(kind: str, fhir_id: str | None) -> str | None:
        if fhir_id is None:
            return None
        return f"{base}/{kind}/{fhir_id}" if base else f"{kind}/{fhir_id}"

    kept = {
        "hookInstance": str(request.hookInstance),
        "questionnaireResponse": reference("QuestionnaireResponse", response.id),
        "appointments": [
            reference("Appointment", entry.resource.id) for entry in context.appointments.entry
        ],
        "encounter": reference("Encounter", context.encounterId),
    }
    return HookCall(record, kept)


def client_ref_for(patient_id: str) -> str:
    """A contract-valid, pseudonymous client reference made from a FHIR Patient.id, the same for
    the same patient (then kept only as its keyed hash, like every client reference)."""
    reference = f"fhir-patient-{patient_id}"
    if len(reference) > 64:
        digest = hashlib.sha256(patient_id.encode()).hexdigest()[:32]
        reference = code_free_reference("fhir-patient", digest)  # no code can be read in it
    return reference


def booking_id_for(appointment_id: str) -> str:
    """The Appointment.id as the booking id; an id the contract's pattern refuses (one starting
    with "-" or ".") is replaced by a digest of it, the same every time."""
    if re.match(BOOKING_ID_PATTERN, appointment_id):
        return appointment_id
    digest = hashlib.sha256(appointment_id.encode()).hexdigest()[:40]
    return code_free_reference("fhir-appointment", digest)


def contract_field(field: str) -> str:
    """Where a booking-record field came from in the call: the hook context for the identifiers
    and the time, the questionnaire item of that linkId for the rest."""
    return FROM_CONTEXT.get(field, field)


def _same_patient(reference: Reference | None, patient_id: str, where: str) -> None:
    if reference is None or reference.reference is None:
        return
    if "Patient/" in reference.reference:
        found = _PATIENT.search(reference.reference)
        if found is None or found.group(1) != patient_id:
            raise refused(
                f"{where}.reference",
                reference.reference,
                "another patient than context.patientId",
            )


def _booking_context(request: HookRequest) -> QuestionnaireResponse | None:
    prefetch = request.prefetch or {}
    if PREFETCH_KEY not in prefetch:
        raise PrefetchMissing(
            f"{PREFETCHED} is missing and this service does not fetch from fhirServer: send the "
            "prefetch its discovery document asks for"
        )
    prefetched = prefetch[PREFETCH_KEY]
    if prefetched is None:  # the client has no data for the template
        return None
    kind = prefetched.get("resourceType") if isinstance(prefetched, dict) else None
    if kind == "OperationOutcome":  # the client could not prefetch it
        raise PrefetchMissing(f"{PREFETCHED}: the client could not prefetch it (OperationOutcome)")
    if kind == "QuestionnaireResponse":
        response = validated(QuestionnaireResponse, prefetched, ("prefetch", PREFETCH_KEY))
        return _checked(response, PREFETCHED, request.context.patientId)
    if kind != "Bundle":
        raise refused(
            PREFETCHED,
            kind if isinstance(kind, str) else None,
            "a QuestionnaireResponse, or a searchset Bundle holding one",
        )
    bundle = validated(SearchBundle, prefetched, ("prefetch", PREFETCH_KEY))
    outcome = False
    for position, entry in enumerate(bundle.entry or []):
        resource = entry.resource or {}
        if resource.get("resourceType") == "QuestionnaireResponse":
            at = ("prefetch", PREFETCH_KEY, "entry", position, "resource")
            response = validated(QuestionnaireResponse, resource, at)
            return _checked(response, ".".join(map(str, at)), request.context.patientId)
        outcome = outcome or resource.get("resourceType") == "OperationOutcome"
    if outcome:
        raise PrefetchMissing(f"{PREFETCHED}: the client could not prefetch it (OperationOutcome)")
    return None  # a search that found nothing: no booking context for this patient


def _checked(response: QuestionnaireResponse, where: str, patient_id: str) -> QuestionnaireResponse:
    if response.status == "entered-in-error":
        raise refused(f"{where}.status", response.status, "entered in error: not a booking context")
    if response.questionnaire is not None and response.questionnaire.split("|")[0] != QUESTIONNAIRE:
        raise refused(
            f"{where}.questionnaire",
            response.questionnaire,
            f"not the questionnaire {QUESTIONNAIRE}",
        )
    subject = response.subject.reference if response.subject else None
    found = _PATIENT.search(subject) if subject else None
    if found is None or found.group(1) != patient_id:
        raise refused(
            f"{where}.subject",
            subject,
            "must be the patient of the call: Patient/{context.patientId}",
        )
    return response


def _answers(items: list[Item], where: str, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answered items as booking-record values by linkId; groups are read through."""
    record = {} if record is None else record
    fields = set(BookingRecord.model_fields)
    for position, item in enumerate(items):
        at = f"{where}.item.{position}"
        _answers(item.item or [], at, record)
        for index, answer in enumerate(item.answer or []):
            _answers(answer.item or [], f"{at}.answer.{index}", record)
        if item.item and not item.answer:
            continue  # a group: its linkId names the group, not a field
        if item.linkId not in fields:
            raise refused(f"{at}.linkId", item.linkId, "not a field of the booking-record contract")
        if item.linkId in FROM_CONTEXT:
            raise refused(
                f"{at}.linkId", item.linkId, f"comes from {FROM_CONTEXT[item.linkId]}, not here"
            )
        if item.linkId in record:
            raise refused(f"{at}.linkId", item.linkId, "answered twice")
        if item.answer is not None and len(item.answer) > 1:
            raise refused(f"{at}.answer", len(item.answer), "one answer per booking-record field")
        record[item.linkId] = item.answer[0].value() if item.answer else None
    return record
