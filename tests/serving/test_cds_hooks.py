"""CDS Hooks and FHIR in process, without a service: the call read, the card, feedback, the audit
row's additions and the RiskAssessment, each checked against the specifications (cds_spec.py)."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.riskassessment import RiskAssessment

from data_contracts.booking import CLIENT_REF_PATTERN, BookingRecord
from data_contracts.records import as_json_records
from serving.cds_hooks import texts
from serving.cds_hooks.cards import CardOffer, card, issues_card
from serving.cds_hooks.feedback import (
    MAX_FEEDBACK_PER_DECISION,
    FeedbackFull,
    UnknownCard,
    check_room,
    feedback_rows,
    read_feedback,
)
from serving.cds_hooks.recording import KEY, KeepingHookCall
from serving.fhir import FHIR_JSON, qualitative_risk, risk_assessment
from serving.interop import (
    PREFETCH_KEY,
    Malformed,
    PrefetchMissing,
    booking_id_for,
    client_ref_for,
    discovery,
    read_hook_call,
)
from synthetic.cohort import generate_cohort
from tests.serving.cds_spec import Discovery, empty_elements, hook_request, r4_problems
from tests.serving.cds_spec import valid_response as spec_response

pytestmark = [pytest.mark.code]

RECORD = as_json_records(generate_cohort("etela-pohjanmaa", 1, seed=21))[0]
DECISION = "4e0a3a1e-3283-4575-ab82-028d55fe2719"


def assessment(level: str = "high", language: str = "fi") -> dict[str, Any]:
    """An assessment as the API answers it (serving.schemas.Assessment, dumped)."""
    return {
        "decision_id": DECISION,
        "booking_id": "apt-1",
        "decided_at": "2025-03-03T09:00:01+00:00",
        "alert": level != "none",
        "alert_level": level,
        "alert_probability": 0.31,
        "segment": {
            "id": "S2",
            "name": "Työttömät, psykososiaalinen kuormitus",
            "name_fi": "Työttömät, psykososiaalinen kuormitus",
            "name_en": "Unemployed with psychosocial concerns",
            "support_level": "consultation",
            "service_path": ["network_consultation", "initial_service"],
        },
        "reasons": [{"field": "work_ability_score", "value": 3, "text": "Työkyky 3/10 nostaa"}],
        "language": language,
        "model": {"name": "kykytutka", "version": "7", "contract_version": "1.2.0"},
    }


def stored_row(output: dict[str, Any]) -> dict[str, Any]:
    return {
        "decision_id": DECISION,
        "decided_at": "2025-03-03T09:00:01+00:00",
        "client_ref_hash": "ab" * 32,
        "booking_id": "apt-1",
        "model_name": "kykytutka",
        "model_version": "7",
        "contract_version": "1.2.0",
        "alert_probability": output["alert_probability"],
        "output": output,
    }


# -- the call --------------------------------------------------------------------------------------


def test_a_valid_call_becomes_a_booking_record_with_a_pseudonymous_reference() -> None:
    request = hook_request(RECORD, patient_id="123", appointment_id="123")
    call = read_hook_call(request)
    assert call is not None
    record = BookingRecord.model_validate(call.record)
    assert record.client_ref == "fhir-patient-123" and record.booking_id == "123"
    assert call.kept["questionnaireResponse"].endswith(
        f"/QuestionnaireResponse/qr-{RECORD['booking_id']}"
    )
    assert call.kept["appointments"] == ["https://ehr.example.org/fhir/Appointment/123"]
    assert "123" not in json.dumps(call.kept["hookInstance"])  # the patient id is not kept


def test_the_test_call_holds_valid_r4b_resources() -> None:
    request = hook_request(RECORD)
    QuestionnaireResponse.model_validate(request["prefetch"][PREFETCH_KEY])
    Appointment.model_validate(request["context"]["appointments"]["entry"][0]["resource"])


@pytest.mark.parametrize(
    "patient_id",
    ["123", "a", "A.b-C", "x" * 64, "-starts-with-a-dash", ".dot"],
)
def test_every_fhir_id_gives_a_contract_valid_client_reference(patient_id: str) -> None:
    reference = client_ref_for(patient_id)
    assert re.match(CLIENT_REF_PATTERN, reference) and len(reference) <= 64
    assert reference == client_ref_for(patient_id)  # the same patient, the same reference
    other = patient_id[:-1] + ("y" if patient_id[-1] != "y" else "z")
    assert client_ref_for(other) != reference  # another patient, another reference
    BookingRecord.model_validate({**RECORD, "client_ref": reference, "booking_id": "1"})
    BookingRecord.model_validate({**RECORD, "booking_id": booking_id_for(patient_id)})


def _mutated(path: list[Any], value: Any) -> dict[str, Any]:
    request = copy.deepcopy(hook_request(RECORD))
    target: Any = request
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return request


APPOINTMENT = ["context", "appointments", "entry", 0, "resource"]
ITEMS = ["prefetch", PREFETCH_KEY, "item"]
SHAPES = [
    (["context"], "x", "context"),
    (["prefetch"], ["x"], "prefetch"),
    (["hook"], "patient-view", "hook"),
    (["hookInstance"], "not-a-uuid", "hookInstance"),
    (["context", "patientId"], "no spaces allowed", "context.patientId"),
    (["context", "userId"], "Device/1", "context.userId"),
    (["context", "appointments"], ["x"], "context.appointments"),
    (["context", "appointments", "entry"], [], "context.appointments.entry"),
    ([*APPOINTMENT, "status"], "booked", "context.appointments.entry.0.resource.status"),
    ([*APPOINTMENT, "id"], "a b", "context.appointments.entry.0.resource.id"),
    ([*ITEMS, 0], 3, "prefetch.bookingContext.item.0"),
    ([*ITEMS, 0, "answer"], [5], "prefetch.bookingContext.item.0.answer.0"),
    ([*ITEMS, 0, "answer"], {"valueInteger": 3}, "prefetch.bookingContext.item.0.answer"),
    ([*ITEMS, 0, "answer", 0], {"valueCoding": "female"},
     "prefetch.bookingContext.item.0.answer.0.valueCoding"),
    ([*ITEMS, 0, "answer", 0], {}, "prefetch.bookingContext.item.0.answer.0"),
    ([*ITEMS, 0, "linkId"], "diagnosis_text", "prefetch.bookingContext.item.0.linkId"),
    ([*ITEMS, 0, "linkId"], "client_ref", "prefetch.bookingContext.item.0.linkId"),
    (["prefetch", PREFETCH_KEY, "subject"], {"reference": "Patient/other"},
     "prefetch.bookingContext.subject"),
    (["prefetch", PREFETCH_KEY, "status"], "entered-in-error", "prefetch.bookingContext.status"),
    (["prefetch", PREFETCH_KEY, "resourceType"], "Patient", "prefetch.bookingContext"),
    (["fhirServer"], "not a url", "fhirServer"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "field"), SHAPES, ids=lambda v: str(v)[:40])
def test_each_malformed_shape_names_its_field(path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(Malformed) as refused:
        read_hook_call(_mutated(path, value))
    assert refused.value.problems[0][0] == field, refused.value.problems


def test_an_access_token_is_never_echoed_and_needs_a_fhir_server() -> None:
    authorization = {"access_token": "SECRET-TOKEN", "token_type": "Bearer", "expires_in": "x"}
    with pytest.raises(Malformed) as refused:
        read_hook_call({**hook_request(RECORD), "fhirAuthorization": authorization})
    assert "SECRET-TOKEN" not in str(refused.value.problems)
    complete = {**authorization, "expires_in": 300, "scope": "user/*.read", "subject": "kyky"}
    request = {**hook_request(RECORD), "fhirAuthorization": complete}
    del request["fhirServer"]
    with pytest.raises(Malformed) as refused:
        read_hook_call(request)
    assert refused.value.problems[0][0] == "fhirServer"


def test_without_the_prefetch_the_service_says_412_and_without_data_no_card() -> None:
    for prefetch in ({}, {"other": None}, None):
        with pytest.raises(PrefetchMissing):
            read_hook_call({**hook_request(RECORD), "prefetch": prefetch})
    absent = hook_request(RECORD)
    del absent["prefetch"]
    with pytest.raises(PrefetchMissing):
        read_hook_call(absent)
    failed = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    with pytest.raises(PrefetchMissing):
        read_hook_call({**hook_request(RECORD), "prefetch": {PREFETCH_KEY: failed}})
    assert read_hook_call({**hook_request(RECORD), "prefetch": {PREFETCH_KEY: None}}) is None
    nothing = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    assert read_hook_call({**hook_request(RECORD), "prefetch": {PREFETCH_KEY: nothing}}) is None


def test_a_patient_in_the_appointment_must_be_the_patient_of_the_call() -> None:
    request = _mutated([*APPOINTMENT, "participant", 0, "actor"], {"reference": "Patient/other"})
    with pytest.raises(Malformed) as refused:
        read_hook_call(request)
    assert refused.value.problems[0][0].endswith("participant.0.actor.reference")


# -- the card --------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", texts.LANGUAGES)
@pytest.mark.parametrize("level", ["raised", "high"])
def test_the_card_follows_the_specification(language: str, level: str) -> None:
    offer = CardOffer.new()
    built = card(assessment(level, language), language, offer, "https://kyky.example/card?v=7")
    (parsed,) = spec_response({"cards": [built]}).cards
    assert parsed.indicator == {"raised": "info", "high": "warning"}[level]
    assert "%" not in parsed.summary and not re.search(r"\d", parsed.summary)
    assert str(parsed.uuid) == DECISION
    (suggestion,) = parsed.suggestions or []
    assert str(suggestion.uuid) == offer.suggestion
    assert suggestion.label == texts.INITIAL_SERVICE[language]
    assert texts.ADVISORY[language] in (parsed.detail or "")
    assert [r.code for r in parsed.overrideReasons or []] == list(texts.OVERRIDE_REASONS)


def test_only_an_alert_gets_a_card_and_the_row_keeps_what_the_card_offered() -> None:
    assert not issues_card({"alert_level": "none"}) and issues_card({"alert_level": "raised"})
    written: list[dict[str, Any]] = []

    class Store:
        async def arecord(self, rows: list[dict[str, Any]], timeout: float | None = None) -> None:
            written.extend(rows)

    offer = CardOffer.new()
    keeping = KeepingHookCall(Store(), {"hookInstance": "h"}, offer)  # type: ignore[arg-type]
    rows = [{"output": {"alert_level": "high"}}, {"output": {"alert_level": "none"}}]
    asyncio.run(keeping.arecord(rows))  # the way the decision builder writes
    assert written[0]["output"][KEY]["card"]["suggestions"][0]["uuid"] == offer.suggestion
    assert written[1]["output"][KEY] == {"hookInstance": "h", "card": None}


# -- feedback --------------------------------------------------------------------------------------

#: the three feedback examples of CDS Hooks 2.0 ("Feedback"), verbatim
SPEC_EXAMPLES = json.loads("""[
{"feedback": [{"card": "4e0a3a1e-3283-4575-ab82-028d55fe2719", "outcome": "accepted",
  "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
  "outcomeTimestamp": "2021-12-11T10:05:31Z"}]},
{"feedback": [{"card": "f6b95768-b1c8-40dc-8385-bf3504b82ffb", "outcome": "overridden",
  "outcomeTimestamp": "2020-12-11T00:00:00Z"}]},
{"feedback": [{"card": "9368d37b-283f-44a0-93ea-547cebab93ed", "outcome": "overridden",
  "overrideReason": {"reason": {"code": "d7ecf885",
    "system": "https://example.com/cds-hooks/override-reason-system"},
    "userComment": "A comment entered by the clinician."},
  "outcomeTimestamp": "2020-12-11T00:00:00Z"}]}
]""")


@pytest.mark.parametrize("example", SPEC_EXAMPLES)
def test_the_specifications_feedback_examples_are_read(example: dict[str, Any]) -> None:
    read_feedback(example)


def _feedback(**item: Any) -> dict[str, Any]:
    entry = {"card": DECISION, "outcome": "overridden", "outcomeTimestamp": "2025-03-03T09:05:00Z"}
    return {"feedback": [{**entry, **item}]}


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"outcomeTimestamp": None}, "feedback.0.outcomeTimestamp"),
        ({"outcomeTimestamp": "2025-03-03T09:05:00"}, "feedback.0.outcomeTimestamp"),
        ({"outcome": "accepted"}, "feedback.0.acceptedSuggestions"),
        ({"outcome": "ignored"}, "feedback.0.outcome"),
        ({"card": "card-1"}, "feedback.0.card"),
        ({"overrideReasons": [{"reason": {"code": "x", "system": "y"}}]}, "feedback.0.overrideReasons"),
        ({"overrideReason": {}}, "feedback.0.overrideReason"),
        ({"overrideReason": {"reason": {"code": "x"}}}, "feedback.0.overrideReason.reason.system"),
    ],
)  # fmt: skip
def test_feedback_out_of_shape_names_the_field(item: dict[str, Any], field: str) -> None:
    body = _feedback(**item)
    body["feedback"][0] = {k: v for k, v in body["feedback"][0].items() if v is not None}
    with pytest.raises(Malformed) as refused:
        read_feedback(body)
    assert refused.value.problems[0][0] == field, refused.value.problems


def test_feedback_is_checked_against_the_card_and_stores_the_code_only() -> None:
    offer = CardOffer.new()
    output = {"alert_level": "high", KEY: {"hookInstance": "h", "card": offer.kept()}}
    stored = {DECISION: {"decision_id": DECISION, "output": output}}
    reason = {"system": "urn:kykytutka:cds:override-reason", "code": "client-declined"}
    comment = "Matti Meikäläinen said no"
    overridden = _feedback(overrideReason={"reason": reason, "userComment": comment})
    (row,) = feedback_rows(read_feedback(overridden), stored.get)
    assert row["override_reason"] == "client-declined" and comment not in json.dumps(
        row, default=str
    )
    accepted = _feedback(outcome="accepted", acceptedSuggestions=[{"id": offer.suggestion}])
    assert feedback_rows(read_feedback(accepted), stored.get)[0]["outcome"] == "accepted"
    for body, field in (
        (_feedback(overrideReason={"reason": {**reason, "code": "tired"}}), "reason"),
        (_feedback(outcome="accepted", acceptedSuggestions=[{"id": DECISION}]), "0.id"),
    ):
        with pytest.raises(Malformed) as refused:
            feedback_rows(read_feedback(body), stored.get)
        assert refused.value.problems[0][0].endswith(field)
    unknown = _feedback(card="00000000-0000-4000-8000-000000000001")
    with pytest.raises(UnknownCard, match=r"feedback\.0\.card"):
        feedback_rows(read_feedback(unknown), stored.get)


def test_a_card_takes_a_bounded_number_of_feedback_rows_counted_in_one_call() -> None:
    other = "00000000-0000-4000-8000-000000000002"
    asked: list[list[str]] = []

    def counts(held: dict[str, int]) -> Any:
        def count(ids: Any) -> dict[str, int]:
            asked.append(list(ids))
            return {i: held[i] for i in ids if i in held}

        return count

    check_room([DECISION, other], counts({DECISION: MAX_FEEDBACK_PER_DECISION - 1}))
    assert asked == [[DECISION, other]]  # every card of the request at once
    with pytest.raises(FeedbackFull) as full:
        check_room([other, DECISION], counts({DECISION: MAX_FEEDBACK_PER_DECISION}))
    message = str(full.value)
    assert message.startswith("feedback.1.card: ") and DECISION in message
    assert f"{MAX_FEEDBACK_PER_DECISION} feedback entries" in message and other not in message


# -- discovery and the RiskAssessment ---------------------------------------------------------------


def test_discovery_follows_the_specification_and_names_nothing_missing() -> None:
    parsed = Discovery.model_validate(discovery())
    (service,) = parsed.services
    assert service.prefetch and set(re.findall(r"{{(.*?)}}", service.prefetch[PREFETCH_KEY])) == {
        "context.patientId"
    }
    assert "/cds-services/contract" not in json.dumps(discovery())
    assert empty_elements(discovery()) == []


@pytest.mark.parametrize("hooked", [True, False])
@pytest.mark.parametrize("level", ["none", "raised", "high"])
def test_the_risk_assessment_is_valid_r4b_and_r4(hooked: bool, level: str) -> None:
    output = assessment(level, "sv")
    if hooked:
        output[KEY] = {
            "hookInstance": "h",
            "questionnaireResponse": "https://ehr.example.org/fhir/QuestionnaireResponse/qr-1",
            "appointments": ["https://ehr.example.org/fhir/Appointment/123"],
            "encounter": "https://ehr.example.org/fhir/Encounter/9",
            "card": None,
        }
    resource = risk_assessment(stored_row(output))
    RiskAssessment.model_validate(resource)
    assert r4_problems(resource) == []
    assert resource["subject"]["type"] == "Patient" and resource["language"] == "sv"
    assert resource["identifier"] == [
        {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{DECISION}"}
    ]
    assert resource["performer"]["type"] == "Device"
    assert (
        "kykytutka" in resource["performer"]["display"] and "7" in resource["performer"]["display"]
    )
    assert "Konsultation" in resource["mitigation"]
    assert "Inledande tjänst: bedömning av stödbehovet" in resource["mitigation"]
    assert "network_consultation" not in json.dumps(resource)
    assert texts.ADVISORY["sv"] in resource["mitigation"]
    (coding,) = resource["prediction"][0]["qualitativeRisk"]["coding"]
    assert coding["display"] and coding["code"] == qualitative_risk(0.31, level)
    kinds = [reference.get("type") for reference in resource["basis"]]
    assert kinds == (["QuestionnaireResponse", "Appointment"] if hooked else ["Appointment"])


def test_the_per_client_recommendation_is_preferred_when_the_decision_has_one() -> None:
    output = {**assessment("raised", "en"), "recommendation": {"support_level": "team"}}
    assert "Work-ability support team" in risk_assessment(stored_row(output))["mitigation"]


def test_the_fhir_media_type_names_the_version() -> None:
    assert FHIR_JSON.startswith("application/fhir+json") and "fhirVersion=4.0" in FHIR_JSON


@pytest.mark.parametrize(
    "moment",
    ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", 5, 1e12, "2900-01-01T00:00:00Z"],
)
def test_an_outcome_timestamp_out_of_time_or_not_text_names_the_field(moment: Any) -> None:
    # 9999-12-31T23:59:59-14:00 once reached astimezone(UTC) and overflowed: a 500.
    with pytest.raises(Malformed) as refused:
        read_feedback(_feedback(outcomeTimestamp=moment))
    assert refused.value.problems[0][0] == "feedback.0.outcomeTimestamp"
