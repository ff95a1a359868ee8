"""Outcomes come back: a coordinator records the confirmed support level of a decision."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from data_contracts.records import as_json_records
from synthetic.cohort import generate_cohort
from tests.serving.conftest import Service

pytestmark = [pytest.mark.code, pytest.mark.slow]  # all over a running service

RECORDS = as_json_records(generate_cohort("etela-pohjanmaa", 5, seed=21))


def _decision(service: Service, booking_id: str) -> str:
    status, body = service.call("POST", "/v1/assessments", {**RECORDS[0], "booking_id": booking_id})
    assert status == 200, body
    decision_id: str = body["decision_id"]
    return decision_id


def test_a_coordinator_records_an_outcome_and_the_auditor_sees_its_history(
    service: Service,
) -> None:
    decision = _decision(service, "outcome-1")
    path = f"/v1/assessments/{decision}/outcome"
    status, first = service.call("POST", path, {"support_level": "none"}, role="coordinator")
    assert status == 201, first
    assert first["needs_support"] is False and first["support_level"] is None
    assert first["recorded_by"] == "test-coordinator"
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    helsinki = later.astimezone(timezone(timedelta(hours=2)))
    status, second = service.call(
        "POST", path, {"support_level": "team", "confirmed_at": helsinki.isoformat()},
        role="coordinator",
    )  # fmt: skip
    assert status == 201, second
    assert second["needs_support"] is True and second["support_level"] == "team"
    assert second["confirmed_at"] == later.isoformat()  # stored in UTC
    status, stored = service.call("GET", f"/v1/assessments/{decision}", role="auditor")
    assert status == 200
    assert [o["support_level"] for o in stored["outcomes"]] == [None, "team"]  # the last counts


@pytest.mark.parametrize("role", [None, "booking-system", "auditor"])
def test_only_a_coordinator_records_outcomes(service: Service, role: str | None) -> None:
    decision = _decision(service, f"outcome-role-{role}")
    status, _ = service.call(
        "POST", f"/v1/assessments/{decision}/outcome", {"support_level": "team"}, role=role
    )
    assert status == (401 if role is None else 403)


@pytest.mark.parametrize(
    ("body", "field", "value"),
    [
        ({"support_level": "urgent"}, "support_level", "urgent"),
        ({}, "support_level", None),
        ({"support_level": "team", "confirmed_at": "yesterday"}, "confirmed_at", "yesterday"),
        (
            {"support_level": "team", "confirmed_at": "2026-11-20T10:00:00"},
            "confirmed_at",
            "2026-11-20T10:00:00",
        ),
        (
            {"support_level": "team", "confirmed_at": "2999-01-01T00:00:00+00:00"},
            "confirmed_at",
            "2999-01-01T00:00:00+00:00",
        ),
        ({"support_level": "team", "comment": "free text"}, "comment", "free text"),
        (
            {"support_level": "team", "confirmed_at": "2020-01-01T00:00:00+00:00"},
            "confirmed_at",
            "2020-01-01T00:00:00+00:00",
        ),
    ],
)
def test_a_bad_outcome_is_422_naming_field_and_value(
    service: Service, body: dict[str, Any], field: str, value: Any
) -> None:
    # A digest in hex letters only: a running number could complete a personal identity code.
    tag = (
        hashlib.sha256(str(body).encode())
        .hexdigest()
        .translate(str.maketrans("0123456789", "ghijklmnop"))
    )
    decision = _decision(service, f"outcome-bad-{tag[:24]}")
    status, answer = service.call(
        "POST", f"/v1/assessments/{decision}/outcome", body, role="coordinator"
    )
    assert status == 422, answer
    named = [e for e in answer["errors"] if e["field"] == field]
    assert named, answer
    if value is not None:
        assert named[0]["value"] == value


def test_an_outcome_for_an_unknown_or_malformed_decision_is_refused(service: Service) -> None:
    unknown = "/v1/assessments/00000000-0000-4000-8000-000000000000/outcome"
    status, _ = service.call("POST", unknown, {"support_level": "team"}, role="coordinator")
    assert status == 404
    status, answer = service.call(
        "POST", "/v1/assessments/nope/outcome", {"support_level": "team"}, role="coordinator"
    )
    assert status == 422 and answer["errors"][0]["field"] == "decision_id"


def test_monitoring_reads_what_the_service_wrote(service: Service) -> None:
    """The audit store as the running service fills it (real HTTP) is what monitoring reads:
    the stored inputs validate against the contract and the outcomes join their decisions."""
    from monitoring.sources import read_audit_window

    started = datetime.now(UTC)
    records = as_json_records(generate_cohort("pirkanmaa", 1_000, seed=22))
    decisions = []
    for first in range(0, len(records), 50):
        batch = [
            {**r, "booking_id": f"mon-{first + i}"}
            for i, r in enumerate(records[first : first + 50])
        ]
        status, body = service.call("POST", "/v1/assessments:batch", {"records": batch})
        assert status == 200, body
        decisions += [a["decision_id"] for a in body["assessments"]]
    for decision in decisions[:40]:
        status, _ = service.call(
            "POST", f"/v1/assessments/{decision}/outcome", {"support_level": "consultation"},
            role="coordinator",
        )  # fmt: skip
        assert status == 201
    window = read_audit_window(
        service.env["KYKYTUTKA_AUDIT_URL"], started, datetime.now(UTC) + timedelta(seconds=1)
    )
    assert len(window.frame) == len(records)
    assert window.frame["needs_support"].sum() == 40
    assert window.model_versions == ["1"]
    assert window.frame["alert_probability"].between(0, 1).all()
