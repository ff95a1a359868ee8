"""The specifications the CDS Hooks service and the FHIR view are tested against, written from the
specifications' own tables (not from the service's code), and an appointment-book call as an EHR
would make it.

- CDS Hooks 2.0 (HL7, cds-hooks.hl7.org/2.0; github.com/HL7/cds-hooks tag v2.0.1, "Discovery",
  "CDS Service Response", "Card Attributes", "Source", "Suggestion", "Action", "Link", Coding), with
  the invariants of its logical models (cds-resp-1: at-most-one allows one recommended suggestion;
  cds-resp-4: override reasons have a display; cds-resp-6: suggestions need selectionBehavior) and
  "JSON elements SHALL NOT be null ... SHALL NOT be empty" (``null``, ``""``, ``[]``, ``{}``).
- FHIR R4 (4.0.1) RiskAssessment and the data types it uses: the element names, types and
  cardinalities of hl7.fhir.r4.core 4.0.1 (StructureDefinition RiskAssessment; Identifier,
  Reference, CodeableConcept, Coding, Annotation), and the primitive types' regular expressions.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from uuid import UUID

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, model_validator

# -- CDS Hooks 2.0 -----------------------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Coding(_Spec):
    code: str
    system: str
    display: str | None = None


class Source(_Spec):
    label: str
    url: AnyUrl | None = None
    icon: AnyUrl | None = None
    topic: Coding | None = None


class Action(_Spec):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None  # noqa: N815


class Suggestion(_Spec):
    label: str
    uuid: UUID | None = None
    isRecommended: bool | None = None  # noqa: N815
    actions: list[Action] | None = None


class Link(_Spec):
    label: str
    url: AnyUrl
    type: Literal["absolute", "smart"]
    appContext: str | None = None  # noqa: N815
    autolaunchable: bool | None = None


class Card(_Spec):
    uuid: UUID | None = None
    summary: str = Field(max_length=139)  # "<140-character"
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None  # noqa: N815
    overrideReasons: list[Coding] | None = None  # noqa: N815
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _invariants(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("cds-resp-6: suggestions need a selectionBehavior")
        recommended = [s for s in self.suggestions or [] if s.isRecommended]
        if self.selectionBehavior == "at-most-one" and len(recommended) > 1:
            raise ValueError("cds-resp-1: at-most-one allows one recommended suggestion")
        if any(reason.display is None for reason in self.overrideReasons or []):
            raise ValueError("cds-resp-4: every override reason needs a display")
        return self


class ServiceResponse(_Spec):
    cards: list[Card]
    systemActions: list[Action] | None = None  # noqa: N815


class Service(_Spec):
    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None  # noqa: N815


class Discovery(_Spec):
    services: list[Service]


def empty_elements(value: Any, path: str = "") -> list[str]:
    """Where a JSON document has null, "", [] or {} (CDS Hooks 2.0, "Use of JSON")."""
    if value is None or value in ("", [], {}):
        return [path or "(root)"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in empty_elements(v, f"{path}.{k}".strip("."))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in empty_elements(v, f"{path}.{i}")]
    return []


def valid_response(body: Any) -> ServiceResponse:
    """A CDS service response checked against the specification; "cards": [] is allowed."""
    response = ServiceResponse.model_validate(body)
    if body["cards"]:
        assert empty_elements(body["cards"]) == [], empty_elements(body["cards"])
    return response


# -- FHIR R4 ---------------------------------------------------------------------------------------

MANY = "*"
#: element: (type, max); from hl7.fhir.r4.core 4.0.1 StructureDefinition/RiskAssessment
RISK_ASSESSMENT_R4: dict[str, tuple[str, int | str]] = {
    "resourceType": ("code", 1),
    "id": ("id", 1),
    "meta": ("Meta", 1),
    "implicitRules": ("uri", 1),
    "language": ("code", 1),
    "text": ("Narrative", 1),
    "contained": ("Resource", MANY),
    "extension": ("Extension", MANY),
    "modifierExtension": ("Extension", MANY),
    "identifier": ("Identifier", MANY),
    "basedOn": ("Reference", 1),
    "parent": ("Reference", 1),
    "status": ("code", 1),
    "method": ("CodeableConcept", 1),
    "code": ("CodeableConcept", 1),
    "subject": ("Reference", 1),
    "encounter": ("Reference", 1),
    "occurrenceDateTime": ("dateTime", 1),
    "occurrencePeriod": ("Period", 1),
    "condition": ("Reference", 1),
    "performer": ("Reference", 1),
    "reasonCode": ("CodeableConcept", MANY),
    "reasonReference": ("Reference", MANY),
    "basis": ("Reference", MANY),
    "prediction": ("RiskAssessment.prediction", MANY),
    "mitigation": ("string", 1),
    "note": ("Annotation", MANY),
}
ELEMENTS_R4: dict[str, dict[str, tuple[str, int | str]]] = {
    "RiskAssessment": RISK_ASSESSMENT_R4,
    "RiskAssessment.prediction": {
        "id": ("string", 1),
        "extension": ("Extension", MANY),
        "modifierExtension": ("Extension", MANY),
        "outcome": ("CodeableConcept", 1),
        "probabilityDecimal": ("decimal", 1),
        "probabilityRange": ("Range", 1),
        "qualitativeRisk": ("CodeableConcept", 1),
        "relativeRisk": ("decimal", 1),
        "whenPeriod": ("Period", 1),
        "whenRange": ("Range", 1),
        "rationale": ("string", 1),
    },
    "Identifier": {
        "use": ("code", 1),
        "type": ("CodeableConcept", 1),
        "system": ("uri", 1),
        "value": ("string", 1),
        "period": ("Period", 1),
        "assigner": ("Reference", 1),
    },
    "Reference": {
        "reference": ("string", 1),
        "type": ("uri", 1),
        "identifier": ("Identifier", 1),
        "display": ("string", 1),
    },
    "CodeableConcept": {"coding": ("Coding", MANY), "text": ("string", 1)},
    "Coding": {
        "system": ("uri", 1),
        "version": ("string", 1),
        "code": ("code", 1),
        "display": ("string", 1),
        "userSelected": ("boolean", 1),
    },
    "Annotation": {
        "authorReference": ("Reference", 1),
        "authorString": ("string", 1),
        "time": ("dateTime", 1),
        "text": ("markdown", 1),
    },
}
REQUIRED_R4 = {"RiskAssessment": {"status", "subject"}, "Annotation": {"text"}}
PRIMITIVES_R4 = {
    "id": r"[A-Za-z0-9\-\.]{1,64}",
    "code": r"[^\s]+(\s[^\s]+)*",
    "uri": r"\S*",
    "string": r"[ \r\n\t\S]+",
    "markdown": r"\s*(\S|\s)*",
    "dateTime": r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|"
    r"[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)"
    r"((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?",
}
#: ValueSet observation-status (required binding of RiskAssessment.status)
OBSERVATION_STATUS = {
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
}


def r4_problems(
    value: Any, kind: str = "RiskAssessment", path: str = "RiskAssessment"
) -> list[str]:
    """Where ``value`` is not a valid R4 ``kind`` (elements, cardinality, primitive formats)."""
    if kind in PRIMITIVES_R4:
        ok = isinstance(value, str) and re.fullmatch(PRIMITIVES_R4[kind], value)
        return [] if ok else [f"{path}: not an R4 {kind}: {value!r}"]
    if kind == "decimal":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: not a decimal"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: not a boolean"]
    if kind not in ELEMENTS_R4:
        return [f"{path}: type {kind} is not checked here"]
    if not isinstance(value, dict):
        return [f"{path}: not an object"]
    problems = [
        f"{path}.{name}: required" for name in REQUIRED_R4.get(kind, ()) if name not in value
    ]
    for name, item in value.items():
        if name not in ELEMENTS_R4[kind]:
            problems.append(f"{path}.{name}: not an element of R4 {kind}")
            continue
        element, most = ELEMENTS_R4[kind][name]
        if name == "resourceType":
            problems += [] if item == kind else [f"{path}.resourceType: {item}"]
            continue
        if most == MANY:
            if not isinstance(item, list) or not item:
                problems.append(f"{path}.{name}: an array of at least one")
                continue
            for index, part in enumerate(item):
                problems += r4_problems(part, element, f"{path}.{name}[{index}]")
        else:
            problems += r4_problems(item, element, f"{path}.{name}")
    if kind == "RiskAssessment" and value.get("status") not in OBSERVATION_STATUS:
        problems.append(f"{path}.status: not in observation-status")
    return problems


# -- an appointment-book call ------------------------------------------------------------------------

CONTEXT_FIELDS = {"client_ref", "booking_id", "booking_time"}


def answer(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    return {"valueCoding": {"code": value}} if isinstance(value, str) else {"valueDecimal": value}


def hook_request(
    record: dict[str, Any],
    patient_id: str = "matti-1",
    appointment_id: str | None = None,
    as_bundle: bool = False,
    prefetch_key: str = "bookingContext",
) -> dict[str, Any]:
    """An appointment-book call as an EHR makes it: FHIR context and the prefetched booking
    context (an R4 QuestionnaireResponse whose linkIds are the contract's field names)."""
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": f"qr-{record['booking_id']}",
        "questionnaire": "urn:kykytutka:questionnaire:booking-context",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": "2025-03-03T09:00:00Z",
        "item": [
            {"linkId": name, "answer": [answer(value)]}
            for name, value in record.items()
            if name not in CONTEXT_FIELDS and value is not None
        ],
    }
    prefetched: dict[str, Any] = (
        {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": response}]}
        if as_bundle
        else response
    )
    appointment = {
        "resourceType": "Appointment",
        "id": appointment_id or record["booking_id"],
        "status": "proposed",
        "created": str(record["booking_time"])[:10],
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
    }
    return {
        "hook": "appointment-book",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "https://ehr.example.org/fhir",
        "context": {
            "userId": "PractitionerRole/front-desk-1",
            "patientId": patient_id,
            "appointments": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": appointment}],
            },
        },
        "prefetch": {prefetch_key: prefetched},
    }
