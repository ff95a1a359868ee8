"""Every 422 has one shape, built in one place (serving.errors)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from pydantic import ValidationError

from data_contracts.booking import BookingRecord
from serving.errors import contract_violation, pydantic_problems, refuse

pytestmark = [pytest.mark.code]


def test_a_violation_names_field_value_and_problem() -> None:
    body = contract_violation([("age", -3, "too young"), ("booking_time", object, "not a time")])
    assert body["detail"] == "the request breaks the booking-record contract"
    assert body["errors"][0] == {"field": "age", "value": -3, "problem": "too young"}
    assert body["errors"][1]["value"] == str(object)  # what JSON cannot carry goes as text


def test_pydantic_locations_become_dotted_fields_without_the_body() -> None:
    errors = [
        {"loc": ("body", "records", 1, "work_ability_score"), "input": 12, "msg": "too high"},
        {"loc": ("body",), "input": "[]", "msg": "not an object"},
    ]
    assert pydantic_problems(errors, "body") == [
        ("records.1.work_ability_score", 12, "too high"),
        ("body", "[]", "not an object"),
    ]


def test_the_hook_context_and_a_request_break_the_contract_alike() -> None:
    with pytest.raises(ValidationError) as caught:
        BookingRecord.model_validate({"work_ability_score": 14})
    problems = pydantic_problems(caught.value.errors(), "record")
    assert ("work_ability_score", 14, "Input should be less than or equal to 10") in problems
    with pytest.raises(HTTPException) as refused:
        refuse("records", 51, "at most 50 records in one batch")
    assert refused.value.status_code == 422
    assert refused.value.detail == contract_violation(
        [("records", 51, "at most 50 records in one batch")]
    )
