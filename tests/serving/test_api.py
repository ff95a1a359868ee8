"""The scoring API over real HTTP (uvicorn): assessments, reasons, audit, roles, failures."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest

from data_contracts.booking import CONTRACT_VERSION
from data_contracts.records import as_json_records
from synthetic.cohort import generate_cohort
from tests.serving.conftest import Service

pytestmark = [pytest.mark.code, pytest.mark.slow]  # all over a running service

RECORDS = as_json_records(generate_cohort("pirkanmaa", 40, seed=5))


def record(**changes: Any) -> dict[str, Any]:
    return {**RECORDS[0], **changes}


def test_an_assessment_has_alert_segment_reasons_and_versions(service: Service) -> None:
    status, body = service.call("POST", "/v1/assessments", record())
    assert status == 200, body
    assert isinstance(body["alert"], bool)
    assert body["alert_level"] in ("none", "raised", "high")
    assert 0 <= body["alert_probability"] <= 1
    assert body["segment"]["id"].startswith("S")
    assert body["segment"]["support_level"] in ("self_care", "consultation", "team")
    assert body["segment"]["service_path"]
    assert body["model"] == {
        "name": "kykytutka",
        "version": "1",
        "contract_version": CONTRACT_VERSION,
    }
    assert 1 <= len(body["reasons"]) <= 4
    assert body["language"] == "fi"
    recommendation = body["recommendation"]
    assert recommendation["support_level"] in ("none", "self_care", "consultation", "team")
    assert recommendation["rule"] in ("expected_agreement", "alert", "most_signs")
    probabilities = recommendation["probabilities"]
    assert set(probabilities) == {"none", "self_care", "consultation", "team"}
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert 1 <= len(recommendation["reasons"]) <= 4


def test_an_alert_never_comes_with_less_than_consultation(service: Service) -> None:
    """The issue's client (120 days of sickness absence, work ability 3, a mental-health concern)
    among others: whoever is alerted is recommended consultation or the team."""
    issue = record(
        booking_id="issue-client",
        employment_status="employed",
        months_unemployed=0,
        sickness_absence_days_12m=120,
        work_ability_score=3,
        mental_health_concern=True,
        contact_reason="P",
        complaint_duration_weeks=26,
        referral_source="primary_care",
    )
    status, body = service.call(
        "POST", "/v1/assessments:batch", {"records": [issue, *RECORDS[1:40]]}
    )
    assert status == 200, body
    alerted = [a["recommendation"] for a in body["assessments"] if a["alert"]]
    assert alerted, "some of these bookings raise an alert"
    assert {r["support_level"] for r in alerted} <= {"consultation", "team"}


def test_base_value_plus_contributions_equals_the_raw_score(service: Service) -> None:
    status, body = service.call("POST", "/v1/assessments", record(booking_id="sum-check"))
    assert status == 200
    _, stored = service.call("GET", f"/v1/assessments/{body['decision_id']}", role="auditor")
    contributions = stored["output"]["contributions"]
    assert set(contributions) <= set(RECORDS[0])  # contract fields, not encoded columns
    assert body["base_value"] + sum(contributions.values()) == pytest.approx(
        body["raw_score"], abs=1e-9
    )
    recommendation = stored["output"]["recommendation"]
    assert recommendation["support_level"] == body["recommendation"]["support_level"]
    assert set(recommendation["contributions"]) <= set(RECORDS[0])
    assert recommendation["base_value"] + sum(recommendation["contributions"].values()) == (
        pytest.approx(recommendation["log_odds"], abs=1e-9)
    )
    heavier, lighter = recommendation["compared"]
    probabilities = body["recommendation"]["probabilities"]
    assert recommendation["log_odds"] == pytest.approx(
        math.log(probabilities[heavier] / probabilities[lighter]), abs=1e-2
    )


@pytest.mark.parametrize(
    ("accept", "language", "verb"),
    [
        (None, "fi", "tuen tarpeen todennäköisyyttä"),
        ("sv-FI,sv;q=0.9", "sv", "ett stödbehov"),
        ("en-GB,en;q=0.8", "en", "a support need"),
        ("de, en;q=0.5", "en", "a support need"),
    ],
)
def test_reasons_speak_the_language_asked_for(
    service: Service, accept: str | None, language: str, verb: str
) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    status, body = service.call("POST", "/v1/assessments", record(), headers=headers)
    assert status == 200
    assert body["language"] == language
    assert all(verb in reason["text"] for reason in body["reasons"])


def test_a_work_ability_reason_reads_like_the_front_desk_expects(service: Service) -> None:
    low = record(work_ability_score=3, booking_id="was-3")
    status, body = service.call("POST", "/v1/assessments", low)
    assert status == 200
    texts = [r["text"] for r in body["reasons"] if r["field"] == "work_ability_score"]
    assert texts == [
        "Asiakkaan itse arvioima työkyky on 3/10 (huono), mikä lisää tuen tarpeen todennäköisyyttä."
    ]
    unasked = {u["field"]: u for u in body["unanswered"]}
    assert all(r["field"] not in unasked for r in body["reasons"])


def test_the_auditor_sees_inputs_output_reasons_and_model_but_no_client_reference(
    service: Service,
) -> None:
    status, body = service.call("POST", "/v1/assessments", record(booking_id="audit-1"))
    assert status == 200
    status, stored = service.call("GET", f"/v1/assessments/{body['decision_id']}", role="auditor")
    assert status == 200
    assert stored["model_version"] == "1" and stored["contract_version"] == CONTRACT_VERSION
    assert stored["inputs"]["client_ref"] is None
    assert len(stored["client_ref_hash"]) == 64
    assert RECORDS[0]["client_ref"] not in json.dumps(stored)
    assert stored["output"]["reasons"] == body["reasons"]
    assert stored["output"]["recommendation"]["reasons"] == body["recommendation"]["reasons"]
    assert stored["inputs"]["work_ability_score"] == RECORDS[0]["work_ability_score"]


def test_the_api_recommends_what_the_registered_model_recommends(service: Service) -> None:
    """The recommendation takes the one scoring path: the API (with contributions) and the
    registered model's ``predict`` (without) give the same level to the same bookings."""
    import mlflow
    import pandas as pd

    from models.registry import MODEL_NAME, load_model
    from tests.projects import inside_project

    status, body = service.call("POST", "/v1/assessments:batch", {"records": RECORDS[:40]})
    assert status == 200, body
    version = body["assessments"][0]["model"]["version"]
    with inside_project(service.project):
        mlflow.set_tracking_uri(service.env["MLFLOW_TRACKING_URI"])
        model = load_model(f"models:/{MODEL_NAME}/{version}")  # the version, not the alias
        predicted = model.predict(None, pd.DataFrame(RECORDS[:40]))
    api = [a["recommendation"]["support_level"] for a in body["assessments"]]
    assert api == list(predicted["recommended_support_level"])


def test_a_batch_is_assessed_and_audited(service: Service) -> None:
    status, body = service.call("POST", "/v1/assessments:batch", {"records": RECORDS[1:11]})
    assert status == 200, body
    assert [a["booking_id"] for a in body["assessments"]] == [
        r["booking_id"] for r in RECORDS[1:11]
    ]
    for assessment in body["assessments"][:3]:
        status, _ = service.call(
            "GET", f"/v1/assessments/{assessment['decision_id']}", role="auditor"
        )
        assert status == 200


@pytest.mark.parametrize(
    ("path", "role", "expected"),
    [
        ("/v1/assessments", None, 401),
        ("/v1/assessments", "auditor", 403),
        ("/v1/assessments", "coordinator", 403),
    ],
)
def test_roles_guard_assessing(
    service: Service, path: str, role: str | None, expected: int
) -> None:
    status, _ = service.call("POST", path, record(), role=role)
    assert status == expected


def test_an_unknown_key_is_refused(service: Service) -> None:
    status, _ = service.call(
        "POST", "/v1/assessments", record(), role=None, headers={"X-API-Key": "kyk_not-a-key"}
    )
    assert status == 401


def test_a_booking_system_cannot_read_decisions(service: Service) -> None:
    status, body = service.call("POST", "/v1/assessments", record(booking_id="role-2"))
    assert status == 200
    status, _ = service.call("GET", f"/v1/assessments/{body['decision_id']}")
    assert status == 403
    status, _ = service.call("GET", f"/v1/assessments/{body['decision_id']}", role=None)
    assert status == 401


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"work_ability_score": 11}, "work_ability_score", 11),
        ({"age": -3}, "age", -3),
        ({"employment_status": "retired"}, "employment_status", "retired"),
        ({"age": "forty"}, "age", "forty"),
        # a personal identity code is never echoed back: null, and the problem says why
        ({"client_ref": "131052-308T"}, "client_ref", None),
        ({"free_text": "feels low"}, "free_text", "feels low"),
    ],
)
def test_contract_violations_are_422_naming_field_and_value(
    service: Service, changes: dict[str, Any], field: str, value: Any
) -> None:
    status, body = service.call("POST", "/v1/assessments", record(**changes))
    assert status == 422
    assert {"field": field, "value": value} in [
        {"field": e["field"], "value": e["value"]} for e in body["errors"]
    ]


def test_a_missing_required_field_is_named(service: Service) -> None:
    incomplete = record()
    incomplete.pop("employment_status")
    status, body = service.call("POST", "/v1/assessments", incomplete)
    assert status == 422
    assert body["errors"][0]["field"] == "employment_status"


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[]", b"null", b'"text"', b"\xff\xfe", b'{"age": {"deep": [1, 2]}}']
)
def test_junk_bodies_are_422_never_500(service: Service, raw: bytes) -> None:
    status, _ = service.call("POST", "/v1/assessments", raw=raw)
    assert status == 422


def test_batch_failures_are_named(service: Service) -> None:
    duplicated = [RECORDS[0], RECORDS[0]]
    status, body = service.call("POST", "/v1/assessments:batch", {"records": duplicated})
    assert status == 422
    assert body["errors"][0]["field"] == "records.1.booking_id"
    bad = [RECORDS[0], {**RECORDS[1], "work_ability_score": 12}]
    status, body = service.call("POST", "/v1/assessments:batch", {"records": bad})
    assert status == 422
    assert body["errors"][0]["field"] == "records.1.work_ability_score"
    status, body = service.call("POST", "/v1/assessments:batch", {"records": []})
    assert status == 422


def test_too_many_records_or_bytes_are_refused(service: Service) -> None:
    many = [{**RECORDS[i % 40], "booking_id": f"many-{i}"} for i in range(51)]
    payload = {"records": many}
    assert len(json.dumps(payload)) < 65_536  # under the byte limit: max_batch (50) must refuse
    status, body = service.call("POST", "/v1/assessments:batch", payload)
    assert status == 422
    assert body["errors"][0]["field"] == "records"
    status, _ = service.call("POST", "/v1/assessments", raw=b"{" + b" " * 70_000 + b"}")
    assert status == 413


def test_a_malformed_decision_id_is_422_and_an_unknown_one_404(service: Service) -> None:
    status, _ = service.call("GET", "/v1/assessments/not-a-uuid", role="auditor")
    assert status == 422
    status, _ = service.call(
        "GET", "/v1/assessments/00000000-0000-4000-8000-000000000000", role="auditor"
    )
    assert status == 404


def test_operations_endpoints(service: Service) -> None:
    assert service.call("GET", "/healthz", role=None) == (200, {"status": "ok"})
    status, ready = service.call("GET", "/readyz", role=None)
    assert status == 200 and ready["model_version"] == "1" and ready["audit_store"] == "ok"
    service.call("POST", "/v1/assessments", record(booking_id="metrics-1"))
    status, text = service.call("GET", "/metrics", role=None)
    assert status == 200
    assert "kykytutka_assessments_total" in text
    assert 'kykytutka_request_seconds_bucket{le="0.02",route="/v1/assessments"}' in text


def test_decision_times_carry_their_time_zone(service: Service) -> None:
    _, body = service.call("POST", "/v1/assessments", record(booking_id="tz-1"))
    _, stored = service.call("GET", f"/v1/assessments/{body['decision_id']}", role="auditor")
    assert stored["decided_at"].endswith("+00:00")


def test_logs_are_json_lines_without_client_references(service: Service) -> None:
    sent = record(booking_id="log-1", client_ref="CLIENT-LOG-0001")
    status, body = service.call("POST", "/v1/assessments", sent)
    assert status == 200
    deadline = time.monotonic() + 10
    while body["decision_id"] not in (text := service.log.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"no log line for the decision in:\n{text[-2000:]}"
        time.sleep(0.1)
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    mine = [e for e in events if e.get("decision_id") == body["decision_id"]]
    assert len(mine) == 1
    assert mine[0]["event"] == "assessment" and mine[0]["level"] == "info"
    assert {"time", "logger", "model_version", "alert", "segment"} <= mine[0].keys()
    assert "CLIENT-LOG-0001" not in text


def test_the_path_follows_the_recommendation_and_asks_for_consent_first(service: Service) -> None:
    """Matti-like: an alert, so at least consultation. Without consent to multi-agency work the
    path asks for it first and offers nothing that shares his data; with consent it starts with
    the recommended level's step. Everything in Swedish when Swedish is asked for."""
    matti = record(
        booking_id="path-1", employment_status="unemployed", months_unemployed=40,
        sickness_absence_days_12m=120, work_ability_score=2, complaint_duration_weeks=30,
        mental_health_concern=True, consent_multi_agency=False,
    )  # fmt: skip
    status, without = service.call(
        "POST", "/v1/assessments", matti, headers={"Accept-Language": "sv"}
    )
    assert status == 200, without
    assert without["alert"] and without["recommendation"]["support_level"] in (
        "consultation",
        "team",
    )
    path = without["segment"]["service_path"]
    assert path[0] == "Fråga klienten om samtycke till sektorsövergripande samarbete"
    assert "Konsultation med det professionella nätverket" not in path
    assert without["segment"]["name"] == without["segment"]["name_sv"]
    status, consented = service.call(
        "POST", "/v1/assessments", {**matti, "booking_id": "path-2", "consent_multi_agency": True}
    )
    assert status == 200, consented
    first = consented["segment"]["service_steps"][0]
    assert (
        first
        == {"consultation": "network_consultation", "team": "team"}[
            consented["recommendation"]["support_level"]
        ]
    )
