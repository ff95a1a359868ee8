"""Every 422 has one shape, built in one place (serving.errors), small and sendable whatever the
request held; and the strict JSON reader every body goes through (serving.jsonbody)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request
from pydantic import ValidationError
from starlette.types import Message

from data_contracts.booking import BookingRecord
from serving.errors import (
    MAX_REPORTED,
    contract_violation,
    echo,
    field_name,
    pydantic_problems,
    refuse,
    register_error_handlers,
)
from serving.jsonbody import UnreadableBody, read_json

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


# -- every answer small and sendable, whatever the request held ------------------------------------


@pytest.mark.parametrize(
    ("value", "echoed"),
    [
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (-float("inf"), "-inf"),
        ("\ud800", "\\ud800"),  # a lone surrogate, escaped: UTF-8 cannot carry it
        ("a" * 1_000, "a" * 77 + "..."),
        ({"client_ref": "x"}, "<object>"),
        ([1, 2, 3], "<array of 3>"),
        (b"\xff\xfe", "<2 bytes>"),
        (10**4000, "<integer of 4001 digits>"),
        (12, 12),
        (1.5, 1.5),
        (None, None),
        (True, True),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_an_echoed_value_is_a_short_scalar_json_can_always_carry(value: Any, echoed: Any) -> None:
    assert echo(value) == echoed
    body = contract_violation([("field", value, "problem")])
    # the answer is what Starlette sends: no NaN, UTF-8 throughout
    json.dumps(body, allow_nan=False, ensure_ascii=False).encode("utf-8")


def test_at_most_twenty_problems_are_listed_and_the_rest_counted() -> None:
    body = contract_violation([(f"records.{i}.age", None, "Field required") for i in range(500)])
    assert len(body["errors"]) == MAX_REPORTED == 20
    assert body["detail"].endswith("(500 problems; the first 20 are listed)")
    counted = contract_violation([("age", 1, "x")], total=31)["detail"]
    assert counted.endswith("(31 problems; the first 1 are listed)")


def test_a_field_name_is_bounded_and_sendable() -> None:
    field = contract_violation([("x" * 5_000 + "\udc80", 1, "p" * 5_000)])["errors"][0]
    assert len(field["field"]) <= 200 and len(field["problem"]) <= 300
    assert field_name(("records", 3, "age")) == "records.3.age"
    assert field_name(["\ud800"]) == "\\ud800"


def test_a_missing_field_echoes_null_not_the_object_around_it() -> None:
    missing = {"loc": ("body", "age"), "input": {"x": "a" * 10_000}, "type": "missing"}
    errors = [{**missing, "msg": "Field required"}]
    assert pydantic_problems(errors, "body") == [("age", None, "Field required")]


# -- the strict JSON reader ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        (b'{"age": NaN}', "age", "NaN is not a JSON number"),
        (b'{"a": {"b": [1, Infinity]}}', "a.b.1", "Infinity is not a JSON number"),
        (b'{"age": -Infinity}', "age", "-Infinity is not a JSON number"),
        (b'{"age": 1e400}', "age", "out of the range of a number"),
        (b'{"age": ' + b"1" * 4301 + b"}", "age", "more than 40 digits"),
        (b'{"age": -' + b"1" * 41 + b"}", "age", "more than 40 digits"),
        (b'{"age": 1, "age": 2}', "age", "given twice"),
        (b'{"records": [{"a": 1, "b": 2, "a": 3}]}', "records.0.a", "given twice"),
        (b'{"id": "\\ud800"}', "id", "lone surrogate"),
        (b'{"id": "\\udc00\\ud83d"}', "id", "lone surrogate"),
        (b'{"id": "a\xffb"}', "id", "not UTF-8"),
        (b'{"id": "\xed\xa0\x80"}', "id", "not UTF-8"),
        (b'{"\\ud800": 1}', "\\ud800", "lone surrogate"),
        (b"\xff{}", "body", "not JSON"),
        (b"{not json", "body", "not JSON"),
        (b'{"a": 1} x', "body", "not JSON"),
        (b"\xef\xbb\xbf{}", "body", "not JSON"),
        (b"[" * 33 + b"]" * 33, ".".join(["0"] * 32), "nested deeper than 32 levels"),
        (b"[" * 200_000 + b"]" * 200_000, "body", "nested deeper than 32 levels"),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_the_reader_names_where_a_body_is_not_json_it_reads(
    raw: bytes, field: str, problem: str
) -> None:
    with pytest.raises(UnreadableBody) as refused:
        read_json(raw)
    (found, _, said), *_ = refused.value.problems
    assert (found, problem in said) == (field, True)


def test_the_reader_takes_what_json_allows() -> None:
    nested: Any = 1
    for _ in range(31):
        nested = [nested]  # 31 arrays and the object around them: 32 levels
    allowed = {"deep": nested, "emoji": "\U0001f600", "escaped": "\\ud800", "n": -1.5e300}
    text = json.dumps({**allowed, "big": 10**39, "ä": "ä"}, ensure_ascii=True)
    assert read_json(text.encode()) == json.loads(text)
    assert read_json(b"null") is None and read_json(b' "x" ') == "x"


def test_the_reader_reports_twenty_problems_and_counts_them_all() -> None:
    with pytest.raises(UnreadableBody) as refused:
        read_json(b"[" + b",".join([b"NaN"] * 1_000) + b"]")
    assert len(refused.value.problems) == 20 and refused.value.total == 1_000
    assert refused.value.problems[0][0] == "0" and refused.value.problems[19][0] == "19"


def test_the_reader_stops_counting_past_a_thousand_problems() -> None:
    with pytest.raises(UnreadableBody) as refused:
        read_json(b"[" + b",".join([b"NaN"] * 200_000) + b"]")
    assert len(refused.value.problems) == 20 and refused.value.total is None


def test_a_body_the_client_did_not_finish_is_no_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A form (the pages read theirs with Starlette) whose client went away, or was refused with
    408, mid-body: a 400 nobody hears, not an error-level "internal_error" line and a 500."""
    logged: list[str] = []
    monkeypatch.setattr("serving.errors.log_event", lambda event, *a, **k: logged.append(event))
    app = FastAPI()
    register_error_handlers(app)

    @app.post("/form")
    async def form(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/form",
        "raw_path": b"/form",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))  # nothing raised to the server
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"]) == {"detail": "the request body did not arrive"}
    assert logged == []
