"""Speaking the booking systems' language: CDS Hooks 2.0 and HL7 FHIR.

The booking context reaches the ``appointment-book`` hook as a FHIR QuestionnaireResponse in the
prefetch (key ``bookingContext``) whose items carry the contract's field names as ``linkId``; the
patient id and the proposed Appointment supply the client reference, booking id and time. Answers
go back as CDS cards; an assessment can also be read as an R4B ``RiskAssessment``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.riskassessment import RiskAssessment

from data_contracts.booking import BookingRecord

SERVICE_ID = "kykytutka-work-ability"
QUESTIONNAIRE = "urn:kykytutka:questionnaire:booking-context"
PREFETCH_KEY = "bookingContext"
INDICATORS = {"none": "info", "raised": "warning", "high": "critical"}
_VALUE_KEYS = ("valueInteger", "valueDecimal", "valueBoolean", "valueString", "valueDateTime")


class HookRequestError(ValueError):
    """A CDS Hooks request that cannot be turned into a booking record; names the place."""

    def __init__(self, field: str, problem: str, value: Any = None) -> None:
        self.field, self.problem, self.value = field, problem, value
        super().__init__(f"{field}: {problem}")


def discovery() -> dict[str, Any]:
    return {
        "services": [
            {
                "hook": "appointment-book",
                "id": SERVICE_ID,
                "title": "Kykytutka: work-ability support indicators",
                "description": (
                    "At booking, checks whether the indicators raise an alert that the client may "
                    "need work-ability support, and suggests a client segment and service path. "
                    "Advisory: staff decide."
                ),
                "prefetch": {
                    PREFETCH_KEY: (
                        "QuestionnaireResponse?subject={{context.patientId}}"
                        f"&questionnaire={QUESTIONNAIRE}&_sort=-authored&_count=1"
                    )
                },
                "usageRequirements": (
                    f"prefetch.{PREFETCH_KEY}: a QuestionnaireResponse (or a search Bundle of one) "
                    "whose item linkIds are the booking-record contract's field names "
                    "(GET /cds-services/contract lists them)."
                ),
            }
        ]
    }


def _answer(item: dict[str, Any]) -> Any:
    answers = item.get("answer") or []
    if not answers:
        return None
    answer = answers[0]
    if "valueCoding" in answer:
        return (answer["valueCoding"] or {}).get("code")
    for key in _VALUE_KEYS:
        if key in answer:
            return answer[key]
    return None


def _questionnaire_response(prefetched: Any) -> dict[str, Any]:
    if isinstance(prefetched, dict) and prefetched.get("resourceType") == "Bundle":
        for entry in prefetched.get("entry") or []:
            resource = (entry or {}).get("resource") or {}
            if resource.get("resourceType") == "QuestionnaireResponse":
                return dict(resource)
        raise HookRequestError(
            f"prefetch.{PREFETCH_KEY}", "the Bundle has no QuestionnaireResponse"
        )
    if isinstance(prefetched, dict) and prefetched.get("resourceType") == "QuestionnaireResponse":
        return prefetched
    raise HookRequestError(
        f"prefetch.{PREFETCH_KEY}", "missing; send the booking-context QuestionnaireResponse"
    )


def booking_record_from_hook(request: dict[str, Any]) -> dict[str, Any]:
    """The booking record of an appointment-book call (validated later against the contract)."""
    if request.get("hook") != "appointment-book":
        raise HookRequestError("hook", "this service answers appointment-book", request.get("hook"))
    context = request.get("context") or {}
    response = _questionnaire_response((request.get("prefetch") or {}).get(PREFETCH_KEY))
    fields = set(BookingRecord.model_fields)
    record: dict[str, Any] = {}
    for item in response.get("item") or []:
        link = str((item or {}).get("linkId", ""))
        if link not in fields:
            raise HookRequestError(f"item[{link}]", "not a field of the booking-record contract")
        record[link] = _answer(item)
    record.setdefault("client_ref", context.get("patientId"))
    appointments = (context.get("appointments") or {}).get("entry") or []
    appointment = (appointments[0] or {}).get("resource", {}) if appointments else {}
    record.setdefault("booking_id", appointment.get("id"))
    record.setdefault("booking_time", appointment.get("created") or datetime.now(UTC).isoformat())
    return record


_SUMMARY = {
    "fi": ("Työkyvyn tuen tarve", "hälytys", "korkea hälytys", "ei hälytystä"),
    "sv": ("Behov av stöd för arbetsförmågan", "larm", "högt larm", "inget larm"),
    "en": ("Work-ability support need", "alert", "high alert", "no alert"),
}


def card(assessment: dict[str, Any], language: str) -> dict[str, Any]:
    """A CDS Hooks card for one assessment (summary under 140 characters)."""
    title, raised, high, none = _SUMMARY[language]
    level = assessment["alert_level"]
    word = {"none": none, "raised": raised, "high": high}[level]
    segment = assessment["segment"]
    summary = f"{title}: {word} ({assessment['alert_probability']:.0%}) – {segment['name']}"
    if len(summary) >= 140:
        summary = summary[:136] + "…"
    detail = "\n".join(f"- {reason['text']}" for reason in assessment["reasons"])
    path = "; ".join(segment["service_path"])
    model = assessment["model"]
    return {
        "uuid": assessment["decision_id"],
        "summary": summary,
        "indicator": INDICATORS[level],
        "detail": f"{detail}\n\n**{segment['support_level']}**: {path}",
        "source": {
            "label": f"Kykytutka {model['name']} v{model['version']}",
            "topic": {"system": "urn:kykytutka:segment", "code": segment["id"]},
        },
        "overrideReasons": [
            {"system": "urn:kykytutka:override", "code": code, "display": display}
            for code, display in (
                ("already-in-services", "Client already receives work-ability support"),
                ("not-relevant", "Not relevant for this booking"),
                ("client-declined", "Client declined"),
            )
        ],
    }


def risk_assessment(row: dict[str, Any]) -> dict[str, Any]:
    """The stored decision as an R4B RiskAssessment, validated by fhir.resources."""
    output = row["output"]
    probability = float(row["alert_probability"])
    if not 0.0 <= probability <= 1.0:  # fhir.resources does not check the FHIRPath invariant
        raise ValueError(f"probability {probability} is not on the 0-1 scale")
    qualitative = {"none": "low", "raised": "moderate", "high": "high"}[output["alert_level"]]
    decided = row["decided_at"]
    resource = {
        "resourceType": "RiskAssessment",
        "id": row["decision_id"],
        "status": "final",
        "subject": {
            "identifier": {
                "system": "urn:kykytutka:client-ref-hmac",
                "value": row["client_ref_hash"],
            }
        },
        "occurrenceDateTime": decided if isinstance(decided, str) else decided.isoformat(),
        "method": {
            "coding": [
                {
                    "system": "urn:kykytutka:model",
                    "code": f"{row['model_name']}-v{row['model_version']}",
                    "display": f"{row['model_name']} version {row['model_version']}, contract "
                    f"{row['contract_version']}",
                }
            ]
        },
        "code": {"text": "Need for work-ability support"},
        "prediction": [
            {
                "outcome": {"text": "Needs work-ability support"},
                "probabilityDecimal": round(probability, 6),
                "qualitativeRisk": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/risk-probability",
                            "code": qualitative,
                        }
                    ]
                },
                "rationale": " ".join(f"{r['text']}." for r in output["reasons"]),
            }
        ],
        "note": [
            {
                "text": f"Segment {output['segment']['id']} {output['segment']['name_en']}; "
                f"recommended support level {output['segment']['support_level']}. Advisory only."
            }
        ],
    }
    validated: dict[str, Any] = RiskAssessment.model_validate(resource).model_dump(mode="json")
    return validated
