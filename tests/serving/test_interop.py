"""CDS Hooks and FHIR over real HTTP: discovery, the appointment-book hook, feedback, RiskAssessment."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment

from data_contracts.validation import as_json_records
from serving.interop import PREFETCH_KEY, SERVICE_ID
from synthetic.cohort import generate_cohort
from tests.serving.conftest import Service

pytestmark = [pytest.mark.code, pytest.mark.slow]  # all over a running service

RECORDS = as_json_records(generate_cohort("etela-pohjanmaa", 10, seed=21))
CONTEXT_FIELDS = {"client_ref", "booking_id", "booking_time"}


def _answer(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    return {"valueCoding": {"code": value}} if isinstance(value, str) else {"valueDecimal": value}


def hook_request(record: dict[str, Any], as_bundle: bool = False) -> dict[str, Any]:
    """An appointment-book call as an EHR would make it: FHIR context, prefetched answers."""
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {"linkId": name, "answer": [_answer(value)]}
            for name, value in record.items()
            if name not in CONTEXT_FIELDS and value is not None
        ],
    }
    prefetched: dict[str, Any] = (
        {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": response}]}
        if as_bundle
        else response
    )
    return {
        "hook": "appointment-book",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "userId": "PractitionerRole/front-desk-1",
            "patientId": record["client_ref"],
            "appointments": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "Appointment",
                            "id": record["booking_id"],
                            "status": "proposed",
                            "created": record["booking_time"],
                        }
                    }
                ],
            },
        },
        "prefetch": {PREFETCH_KEY: prefetched},
    }


def test_discovery_lists_the_appointment_book_service(service: Service) -> None:
    status, body = service.call("GET", "/cds-services", role=None)
    assert status == 200
    (described,) = body["services"]
    assert described["hook"] == "appointment-book" and described["id"] == SERVICE_ID
    assert PREFETCH_KEY in described["prefetch"]


@pytest.mark.parametrize("as_bundle", [False, True])
def test_the_hook_answers_with_a_card(service: Service, as_bundle: bool) -> None:
    status, body = service.call(
        "POST", f"/cds-services/{SERVICE_ID}", hook_request(RECORDS[0], as_bundle)
    )
    assert status == 200, body
    (card,) = body["cards"]
    assert len(card["summary"]) < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["label"].startswith("Kykytutka")
    assert card["detail"].startswith("- ")
    status, stored = service.call("GET", f"/v1/assessments/{card['uuid']}", role="auditor")
    assert status == 200 and stored["booking_id"] == RECORDS[0]["booking_id"]


def test_the_hook_speaks_english_when_asked(service: Service) -> None:
    status, body = service.call(
        "POST",
        f"/cds-services/{SERVICE_ID}",
        hook_request(RECORDS[1]),
        headers={"Accept-Language": "en"},
    )
    assert status == 200
    assert body["cards"][0]["summary"].startswith("Work-ability support need")


def test_a_hook_call_breaking_the_contract_is_422_naming_the_field(service: Service) -> None:
    broken = hook_request({**RECORDS[2], "work_ability_score": 14})
    status, body = service.call("POST", f"/cds-services/{SERVICE_ID}", broken)
    assert status == 422
    assert body["errors"][0]["field"] == "work_ability_score"
    no_prefetch = {**hook_request(RECORDS[2]), "prefetch": {}}
    status, body = service.call("POST", f"/cds-services/{SERVICE_ID}", no_prefetch)
    assert status == 422
    assert body["errors"][0]["field"] == f"prefetch.{PREFETCH_KEY}"
    stranger = hook_request(RECORDS[2])
    stranger["prefetch"][PREFETCH_KEY]["item"].append({"linkId": "diagnosis_text"})
    status, body = service.call("POST", f"/cds-services/{SERVICE_ID}", stranger)
    assert status == 422
    assert "diagnosis_text" in body["errors"][0]["field"]


def test_the_hook_needs_booking_system_credentials(service: Service) -> None:
    request = hook_request(RECORDS[3])
    assert service.call("POST", f"/cds-services/{SERVICE_ID}", request, role=None)[0] == 401
    assert service.call("POST", f"/cds-services/{SERVICE_ID}", request, role="auditor")[0] == 403


def test_staff_feedback_is_recorded_without_free_text(service: Service) -> None:
    _, body = service.call("POST", f"/cds-services/{SERVICE_ID}", hook_request(RECORDS[4]))
    card = body["cards"][0]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReasons": [
                    {
                        "reason": {
                            "code": "already-in-services",
                            "system": "urn:kykytutka:override",
                        },
                        "userComment": "Matti Meikäläinen is already with the team",
                    }
                ],
                "outcomeTimestamp": "2025-03-03T09:05:00Z",
            }
        ]
    }
    status, answer = service.call("POST", f"/cds-services/{SERVICE_ID}/feedback", feedback)
    assert status == 200 and answer == {"recorded": 1}
    _, stored = service.call("GET", f"/v1/assessments/{card['uuid']}", role="auditor")
    assert stored["feedback"][0]["outcome"] == "overridden"
    assert stored["feedback"][0]["override_reason"] == "already-in-services"
    assert "Meikäläinen" not in str(stored)
    unknown = {
        "feedback": [{"card": "00000000-0000-4000-8000-000000000001", "outcome": "accepted"}]
    }
    status, body = service.call("POST", f"/cds-services/{SERVICE_ID}/feedback", unknown)
    assert status == 422 and body["errors"][0]["field"] == "feedback.0.card"


def test_an_assessment_reads_as_a_valid_fhir_risk_assessment(service: Service) -> None:
    _, body = service.call("POST", "/v1/assessments", RECORDS[5])
    for role in ("auditor", "booking-system"):
        status, resource = service.call(
            "GET", f"/v1/assessments/{body['decision_id']}/fhir", role=role
        )
        assert status == 200
        parsed = RiskAssessment.model_validate(resource)
        prediction = parsed.prediction[0]
        assert float(prediction.probabilityDecimal) == pytest.approx(
            body["alert_probability"], abs=1e-6
        )
        assert 0 <= prediction.probabilityDecimal <= 1
        assert parsed.status == "final"
        assert "version 1" in parsed.method.coding[0].display
    assert (
        service.call("GET", f"/v1/assessments/{body['decision_id']}/fhir", role="coordinator")[0]
        == 403
    )
