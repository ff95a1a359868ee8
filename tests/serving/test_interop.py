"""CDS Hooks and FHIR over real HTTP, checked against the specifications (cds_spec.py): discovery,
the appointment-book hook, feedback, the model card and the RiskAssessment."""

from __future__ import annotations

import copy
import urllib.error
import urllib.request
from typing import Any

import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment

from data_contracts.records import as_json_records
from synthetic.cohort import generate_cohort
from tests.serving.cds_spec import Discovery, hook_request, r4_problems, valid_response
from tests.serving.conftest import Service

pytestmark = [pytest.mark.code, pytest.mark.slow]  # all over a running service

SERVICE_ID = "kykytutka-work-ability"
HOOK = f"/cds-services/{SERVICE_ID}"
FEEDBACK = f"{HOOK}/feedback"
RECORDS = as_json_records(generate_cohort("etela-pohjanmaa", 400, seed=21))
NEVER_STORED = "Matti Meikäläinen is already with the team"


@pytest.fixture(scope="module")
def levels(service: Service) -> dict[str, list[dict[str, Any]]]:
    """The records by the alert level the champion gives them."""
    found: dict[str, list[dict[str, Any]]] = {"none": [], "raised": [], "high": []}
    for start in range(0, len(RECORDS), 50):
        batch = RECORDS[start : start + 50]
        status, body = service.call("POST", "/v1/assessments:batch", {"records": batch})
        assert status == 200, body
        for record, assessed in zip(batch, body["assessments"], strict=True):
            found[assessed["alert_level"]].append(record)
    assert all(found.values()), {level: len(records) for level, records in found.items()}
    return found


def fetch(service: Service, url: str, role: str | None = None) -> tuple[int, str, str]:
    """GET ``url`` (absolute, or a path of the service): status, content type and text."""
    request = urllib.request.Request(url if url.startswith("http") else service.url + url)
    if role is not None:
        request.add_header("Authorization", f"Bearer {service.keys[role]}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def a_card(service: Service, record: dict[str, Any], **request: Any) -> dict[str, Any]:
    headers = request.pop("headers", None)
    status, body = service.call("POST", HOOK, hook_request(record, **request), headers=headers)
    assert status == 200, body
    (card,) = body["cards"]
    return dict(card)


def test_discovery_follows_the_specification(service: Service) -> None:
    status, body = service.call("GET", "/cds-services", role=None)
    assert status == 200
    (described,) = Discovery.model_validate(body).services
    assert described.hook == "appointment-book" and described.id == SERVICE_ID
    assert described.prefetch and "bookingContext" in described.prefetch
    assert "/cds-services/contract" not in str(body)  # it advertises nothing that is not there


@pytest.mark.parametrize("as_bundle", [False, True])
def test_a_high_alert_gets_a_warning_card_with_a_suggestion(
    service: Service, levels: dict[str, list[dict[str, Any]]], as_bundle: bool
) -> None:
    record = levels["high"][0]
    status, body = service.call("POST", HOOK, hook_request(record, as_bundle=as_bundle))
    assert status == 200, body
    (card,) = valid_response(body).cards
    assert card.indicator == "warning"
    assert "%" not in card.summary and "alkupalvelu" in card.summary.lower()
    (suggestion,) = card.suggestions or []
    assert suggestion.uuid is not None and card.selectionBehavior == "at-most-one"
    assert card.source.url is not None
    status, stored = service.call("GET", f"/v1/assessments/{card.uuid}", role="auditor")
    assert status == 200 and stored["booking_id"] == record["booking_id"]
    assert stored["output"]["alert_level"] == "high"


def test_a_raised_alert_is_information_and_no_alert_is_no_card(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    assert a_card(service, levels["raised"][0])["indicator"] == "info"
    status, body = service.call("POST", HOOK, hook_request(levels["none"][0]))
    assert status == 200 and body == {"cards": []}


@pytest.mark.parametrize(
    ("language", "suggestion", "advisory"),
    [
        ("fi", "Varaa alkupalvelu: työkyvyn tuen tarpeen arviointi", "henkilökunta päättää"),
        ("sv", "Boka den inledande tjänsten: bedömning av behovet av stöd för arbetsförmågan",
         "personalen beslutar"),
        ("en", "Book the initial service: work-ability support-need assessment", "staff decide"),
    ],
)  # fmt: skip
def test_the_card_speaks_the_requests_language(
    service: Service,
    levels: dict[str, list[dict[str, Any]]],
    language: str,
    suggestion: str,
    advisory: str,
) -> None:
    card = a_card(service, levels["high"][1], headers={"Accept-Language": f"{language};q=0.9"})
    assert card["suggestions"][0]["label"] == suggestion
    assert advisory in card["detail"].lower()
    word = {"fi": "alkupalvelu", "sv": "inledande tjänst", "en": "initial service"}[language]
    assert word in card["summary"].lower() and len(card["summary"]) < 140


def test_the_cards_source_is_the_model_versions_card(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    card = a_card(service, levels["raised"][1])
    status, kind, text = fetch(service, card["source"]["url"])
    assert status == 200 and kind.startswith("text/markdown")
    assert text.startswith("# Model card") and "## Intended use" in text
    assert card["source"]["url"].endswith("version=1") and card["source"]["label"].endswith("v1")
    assert fetch(service, f"{HOOK}/model-card?version=99")[0] == 404
    assert fetch(service, f"{HOOK}/model-card?version=x")[0] == 422


def test_an_override_in_the_specifications_shape_is_stored_with_its_reason(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    card = a_card(service, levels["high"][2])
    offered = card["overrideReasons"][0]
    reason = {"system": offered["system"], "code": offered["code"]}
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": reason, "userComment": NEVER_STORED},
                "outcomeTimestamp": "2025-03-03T09:05:00Z",
            }
        ]
    }
    status, answer = service.call("POST", FEEDBACK, feedback)
    assert status == 200 and answer == {"recorded": 1}
    _, stored = service.call("GET", f"/v1/assessments/{card['uuid']}", role="auditor")
    assert stored["feedback"][0]["outcome"] == "overridden"
    assert stored["feedback"][0]["override_reason"] == offered["code"]
    assert stored["feedback"][0]["outcome_at"].startswith("2025-03-03T09:05:00")
    assert "Meikäläinen" not in str(stored)
    assert "Meikäläinen" not in service.log.read_text(encoding="utf-8", errors="replace")


def test_accepting_the_suggestion_is_stored(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    card = a_card(service, levels["high"][3])
    accepted = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2025-03-03T09:06:00Z",
    }
    assert service.call("POST", FEEDBACK, {"feedback": [accepted]}) == (200, {"recorded": 1})
    _, stored = service.call("GET", f"/v1/assessments/{card['uuid']}", role="auditor")
    assert [(f["outcome"], f["override_reason"]) for f in stored["feedback"]] == [
        ("accepted", None)
    ]


def test_feedback_out_of_shape_or_not_of_the_card_is_422_naming_the_field(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    card = a_card(service, levels["high"][4])
    _, assessed = service.call("POST", "/v1/assessments", levels["high"][4])
    base = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2025-03-03T09:05:00Z",
    }
    reason = {"system": card["overrideReasons"][0]["system"], "code": "too-busy"}
    for item, field in (
        ({k: v for k, v in base.items() if k != "outcomeTimestamp"}, "outcomeTimestamp"),
        ({**base, "overrideReason": {"reason": reason}}, "overrideReason.reason"),
        ({**base, "outcome": "accepted"}, "acceptedSuggestions"),
        ({**base, "outcome": "accepted", "acceptedSuggestions": [{"id": card["uuid"]}]},
         "acceptedSuggestions.0.id"),
        ({**base, "overrideReasons": [{"reason": reason}]}, "overrideReasons"),
        ({**base, "card": assessed["decision_id"]}, "card"),  # no card was issued for it
    ):  # fmt: skip
        status, body = service.call("POST", FEEDBACK, {"feedback": [item]})
        assert status == 422, (field, body)
        assert body["errors"][0]["field"] == f"feedback.0.{field}", body


def test_a_booking_system_sees_and_answers_only_its_own_decisions(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    card = a_card(service, levels["high"][5])
    feedback = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2025-03-03T09:05:00Z",
    }
    unknown = {**feedback, "card": "00000000-0000-4000-8000-000000000001"}
    # Another booking system's card reads exactly as one that does not exist: 404.
    for item, role in ((unknown, "booking-system"), (feedback, "other-booking-system")):
        status, body = service.call("POST", FEEDBACK, {"feedback": [item]}, role=role)
        assert status == 404 and "feedback.0.card" in body["detail"], body
    fhir = f"/v1/assessments/{card['uuid']}/fhir"
    assert service.call("GET", fhir, role="other-booking-system")[0] == 404
    assert service.call("GET", fhir)[0] == 200
    assert service.call("GET", fhir, role="auditor")[0] == 200
    assert service.call("POST", FEEDBACK, {"feedback": [feedback]}) == (200, {"recorded": 1})
    _, stored = service.call("GET", f"/v1/assessments/{card['uuid']}", role="auditor")
    assert stored["made_by"] == "test-booking-system"
    assert [f["recorded_by"] for f in stored["feedback"]] == ["test-booking-system"]


def test_without_the_prefetch_the_answer_is_412_and_without_data_no_card(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    request = hook_request(levels["high"][5])
    del request["prefetch"]
    status, body = service.call("POST", HOOK, request)
    assert status == 412 and "bookingContext" in body["detail"]
    assert service.call("POST", HOOK, {**request, "prefetch": {}})[0] == 412
    nothing = {**request, "prefetch": {"bookingContext": None}}
    assert service.call("POST", HOOK, nothing) == (200, {"cards": []})


def test_the_patient_and_the_appointment_must_fit_the_call(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    other = hook_request(levels["high"][6])
    other["prefetch"]["bookingContext"]["subject"] = {"reference": "Patient/someone-else"}
    status, body = service.call("POST", HOOK, other)
    assert status == 422 and body["errors"][0]["field"] == "prefetch.bookingContext.subject"
    booked = hook_request(levels["high"][6])
    booked["context"]["appointments"]["entry"][0]["resource"]["status"] = "booked"
    status, body = service.call("POST", HOOK, booked)
    assert status == 422
    assert body["errors"][0]["field"] == "context.appointments.entry.0.resource.status"


def test_any_fhir_id_is_a_patient_and_appointment_id(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    card = a_card(service, levels["high"][7], patient_id="123", appointment_id="123")
    _, stored = service.call("GET", f"/v1/assessments/{card['uuid']}", role="auditor")
    assert stored["booking_id"] == "123"
    assert "123" not in str(stored["client_ref_hash"])  # kept only as the keyed hash


ITEM = ["prefetch", "bookingContext", "item", 0]
SHAPES = [
    (["context"], "x", "context"),
    (["prefetch"], ["x"], "prefetch"),
    ([*ITEM], 7, "prefetch.bookingContext.item.0"),
    ([*ITEM, "answer"], [3], "prefetch.bookingContext.item.0.answer.0"),
    ([*ITEM, "answer"], {"valueInteger": 3}, "prefetch.bookingContext.item.0.answer"),
    ([*ITEM, "answer", 0], {"valueCoding": "female"},
     "prefetch.bookingContext.item.0.answer.0.valueCoding"),
    (["context", "appointments"], ["x"], "context.appointments"),
    (["hookInstance"], "twelve", "hookInstance"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "field"), SHAPES, ids=lambda v: str(v)[:30])
def test_a_malformed_call_is_422_naming_the_field(
    service: Service, path: list[Any], value: Any, field: str
) -> None:
    request: Any = copy.deepcopy(hook_request(RECORDS[0]))
    target = request
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    status, body = service.call("POST", HOOK, request)
    assert status == 422, body
    assert body["errors"][0]["field"] == field, body


def test_a_call_breaking_the_contract_is_422_naming_the_field(service: Service) -> None:
    status, body = service.call(
        "POST", HOOK, hook_request({**RECORDS[2], "work_ability_score": 14})
    )
    assert status == 422 and body["errors"][0]["field"] == "work_ability_score"
    stranger = hook_request(RECORDS[2])
    stranger["prefetch"]["bookingContext"]["item"].append({"linkId": "diagnosis_text"})
    status, body = service.call("POST", HOOK, stranger)
    assert status == 422 and body["errors"][0]["value"] == "diagnosis_text"


def test_the_hook_needs_booking_system_credentials(service: Service) -> None:
    request = hook_request(RECORDS[3])
    assert service.call("POST", HOOK, request, role=None)[0] == 401
    assert service.call("POST", HOOK, request, role="auditor")[0] == 403
    assert service.call("POST", FEEDBACK, {"feedback": []}, role="auditor")[0] == 403


def test_a_hook_decision_reads_as_a_risk_assessment_on_its_fhir_basis(
    service: Service, levels: dict[str, list[dict[str, Any]]]
) -> None:
    record = levels["high"][8]
    card = a_card(service, record, headers={"Accept-Language": "sv"})
    status, kind, text = fetch(service, f"/v1/assessments/{card['uuid']}/fhir", "booking-system")
    assert status == 200 and kind.startswith("application/fhir+json")
    resource = RiskAssessment.model_validate_json(text).model_dump(mode="json", exclude_none=True)
    assert r4_problems(resource) == []
    assert resource["language"] == "sv" and resource["subject"]["type"] == "Patient"
    assert [b["reference"] for b in resource["basis"]] == [
        f"https://ehr.example.org/fhir/QuestionnaireResponse/qr-{record['booking_id']}",
        f"https://ehr.example.org/fhir/Appointment/{record['booking_id']}",
    ]
    assert resource["performer"]["type"] == "Device"
    assert resource["performer"]["display"] == "kykytutka version 1"
    assert resource["identifier"][0]["value"] == f"urn:uuid:{card['uuid']}"
    assert "personalen beslutar" in resource["mitigation"]
    assert resource["prediction"][0]["qualitativeRisk"]["coding"][0]["display"]


def test_the_fhir_view_names_its_fhir_version(service: Service) -> None:
    _, body = service.call("POST", "/v1/assessments", RECORDS[4])
    _, kind, _ = fetch(service, f"/v1/assessments/{body['decision_id']}/fhir", "auditor")
    assert "fhirVersion=4.0" in kind


def test_an_assessment_reads_as_a_valid_fhir_risk_assessment(service: Service) -> None:
    _, body = service.call("POST", "/v1/assessments", RECORDS[5])
    for role in ("auditor", "booking-system"):
        status, resource = service.call(
            "GET", f"/v1/assessments/{body['decision_id']}/fhir", role=role
        )
        assert status == 200
        assert r4_problems(resource) == []
        parsed = RiskAssessment.model_validate(resource)
        prediction = parsed.prediction[0]
        assert float(prediction.probabilityDecimal) == pytest.approx(
            body["alert_probability"], abs=1e-6
        )
        assert 0 <= prediction.probabilityDecimal <= 1
        assert parsed.status == "final" and parsed.basis[0].type == "Appointment"
        assert "version 1" in parsed.method.coding[0].display
    assert (
        service.call("GET", f"/v1/assessments/{body['decision_id']}/fhir", role="coordinator")[0]
        == 403
    )
