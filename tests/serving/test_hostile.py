"""Hostile input over every endpoint that takes a body or parameters (issue #12, parts 1 and 3):
numbers JSON cannot carry, text that is not text, duplicated members, deep nesting, huge integers,
bodies of the wrong shape, unknown members, oversized bodies and batches, repeated feedback and
personal identity codes in identifiers.

Whatever is sent, the answer is a 4xx (never a 5xx) in one of the two documented shapes
(serving/errors.py), naming the field (or "body"), small (``MAX_ANSWER`` bytes at most), and the
service answers /healthz afterwards. The corpus is built from valid requests by replacing one
place at a time, so "every field of every endpoint" is literally each leaf of each body. Most of it
runs in process (TestClient); what depends on the transport (raw bytes, chunked uploads, a kept-
alive connection) runs over real HTTP against the ``service`` fixture.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from data_contracts.records import as_json_records
from synthetic.cohort import generate_cohort
from tests.serving.cds_spec import hook_request
from tests.serving.conftest import Service
from tests.serving.test_failures import client_for

pytestmark = [pytest.mark.code, pytest.mark.slow]  # on a trained champion

RECORDS = as_json_records(generate_cohort("etela-pohjanmaa", 200, seed=21))
HOOK = "/cds-services/kykytutka-work-ability"
FEEDBACK = f"{HOOK}/feedback"
MODEL_CARD = f"{HOOK}/model-card"
#: the largest answer a refusal may be
MAX_ANSWER = 8_192
#: the in-process service takes bodies up to a megabyte, as in production
BODY_LIMIT = 1_000_000
#: what an error may echo of a value, and how many errors one answer lists
ECHO_CHARS = 80
MAX_REPORTED = 20
#: personal identity codes as booking systems have been seen to send them
IDENTITY_CODES = ["131052-308T", "FI131052-308T", "131052308T", "hetu:131052-308T", "131052_308T"]
PLACEHOLDER = "@@hostile@@"


# -- the service in process, and what a refusal must look like --------------------------------------


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    card: dict[str, Any]  # a card the hook issued
    hook_call: dict[str, Any]  # the call that issued it
    bodies: dict[str, tuple[str, str, Any]]  # a valid request of each endpoint: path, role, body

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        role: str | None = "booking-system",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {"content-type": "application/json", **(headers or {})}
        if role is not None:
            sent["authorization"] = f"Bearer {self.keys[role]}"
        content = raw if raw is not None else None if body is None else json.dumps(body).encode()
        return self.client.request(method, path, content=content, headers=sent)

    def healthy(self) -> None:
        assert self.client.get("/healthz").status_code == 200


@pytest.fixture(scope="module")
def api(champion_project: Path) -> Iterator[Api]:
    saved = dict(os.environ)
    try:
        made, keys = client_for(
            champion_project,
            KYKYTUTKA_MAX_BODY_BYTES=str(BODY_LIMIT),
            KYKYTUTKA_RATE_LIMIT_PER_SECOND="0",  # thousands of requests from one key
        )
        with TestClient(made.app, raise_server_exceptions=False) as client:
            yield _api(client, keys)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _api(client: TestClient, keys: dict[str, str]) -> Api:
    bearer = {"authorization": f"Bearer {keys['booking-system']}"}
    alerted = None
    for start in range(0, len(RECORDS), 50):
        answer = client.post(
            "/v1/assessments:batch", json={"records": RECORDS[start : start + 50]}, headers=bearer
        )
        assert answer.status_code == 200, answer.text
        levels = [a["alert_level"] for a in answer.json()["assessments"]]
        alerted = next((start + i for i, level in enumerate(levels) if level != "none"), None)
        if alerted is not None:
            break
    assert alerted is not None, "no record of the cohort raises an alert"
    call = hook_request(RECORDS[alerted], patient_id="hostile-1")
    answer = client.post(HOOK, json=call, headers=bearer)
    assert answer.status_code == 200, answer.text
    (card,) = answer.json()["cards"]
    reason = card["overrideReasons"][0]
    feedback = {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"system": reason["system"], "code": reason["code"]},
            "userComment": "the client is already with the team",
        },
        "outcomeTimestamp": datetime.now(UTC).isoformat(),
    }
    outcome = {"support_level": "team", "confirmed_at": datetime.now(UTC).isoformat()}
    bodies = {
        "assessment": ("/v1/assessments", "booking-system", RECORDS[0]),
        "batch": ("/v1/assessments:batch", "booking-system", {"records": [RECORDS[1]]}),
        "outcome": (f"/v1/assessments/{card['uuid']}/outcome", "coordinator", outcome),
        "hook": (HOOK, "booking-system", call),
        "feedback": (FEEDBACK, "booking-system", {"feedback": [feedback]}),
    }
    made = Api(client, keys, card, call, bodies)
    for path, role, body in bodies.values():  # each is valid as it is
        answer = made.send("POST", path, body, role)
        assert answer.status_code in (200, 201), (path, answer.text)
    return made


def refusal(response: httpx.Response, field: str | None = None) -> dict[str, Any]:
    """The answer is a small 4xx in a documented shape, naming ``field`` when given."""
    status, raw = response.status_code, response.content
    assert 400 <= status < 500, (status, raw[:300])
    assert len(raw) <= MAX_ANSWER, (status, len(raw), raw[:300])
    body = json.loads(raw.decode("utf-8"))  # strict UTF-8: nothing unencodable got out
    assert isinstance(body, dict) and isinstance(body.get("detail"), str), body
    if status != 422:
        assert set(body) == {"detail"}, body
        return body
    assert set(body) == {"detail", "errors"}, body
    assert 1 <= len(body["errors"]) <= MAX_REPORTED, body
    for error in body["errors"]:
        assert set(error) == {"field", "value", "problem"}, error
        assert isinstance(error["field"], str) and isinstance(error["problem"], str), error
        value = error["value"]
        assert value is None or isinstance(value, str | int | float | bool), error
        assert not isinstance(value, str) or len(value) <= ECHO_CHARS, error
    if field is not None:
        assert field in [error["field"] for error in body["errors"]], (field, body)
    return body


def answered(response: httpx.Response) -> None:
    """Whatever the request: no 5xx, and a refusal has a documented shape."""
    if response.status_code >= 400:
        refusal(response)


def check_all(cases: Iterator[tuple[str, Any]]) -> None:
    """Run every case (a label and a thunk); report every one that fails, not only the first."""
    failures = []
    count = 0
    for label, case in cases:
        count += 1
        try:
            case()
        except AssertionError as exc:
            failures.append(f"{label}: {str(exc)[:300]}")
    assert count > 0
    assert not failures, f"{len(failures)} of {count} cases failed:\n" + "\n".join(failures[:30])


# -- building the corpus from valid requests --------------------------------------------------------


def places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every place in a JSON value, the value itself first, in document order."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from places(item, (*path, index))


def leaves(value: Any) -> list[tuple[Any, ...]]:
    return [path for path, item in places(value) if path and not isinstance(item, dict | list)]


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    document = copy.deepcopy(document)
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


def with_raw(document: Any, path: tuple[Any, ...], raw: bytes) -> bytes:
    """``document`` as JSON bytes with ``raw`` written at ``path`` as it is."""
    text = json.dumps(replaced(document, path, PLACEHOLDER)).encode()
    return text.replace(json.dumps(PLACEHOLDER).encode(), raw)


def named(path: tuple[Any, ...]) -> str:
    return ".".join(map(str, path)) or "body"


def value_at(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def endpoint_cases(api: Api) -> Iterator[tuple[str, str, str, Any]]:
    for name, (path, role, body) in api.bodies.items():
        yield name, path, role, body


def raw_cases(
    api: Api, raws: list[bytes], strings_only: bool = False
) -> Iterator[tuple[str, str, str, bytes, str]]:
    """Each raw JSON value of ``raws`` at each leaf of each endpoint's body (each string leaf):
    a label, the path and role, the body and the field it must be named by."""
    for name, path, role, body in endpoint_cases(api):
        for leaf in leaves(body):
            if strings_only and not isinstance(value_at(body, leaf), str):
                continue
            for raw in raws:
                label = f"{name} {named(leaf)}={raw[:12]!r}"
                yield label, path, role, with_raw(body, leaf, raw), named(leaf)


# -- 1. no 5xx from any input ---------------------------------------------------------------------

NUMBERS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" * 4301, b"9" * 41]


def test_numbers_json_cannot_carry_are_named_in_every_field(api: Api) -> None:
    def case(path: str, role: str, raw: bytes, field: str) -> Any:
        return lambda: refusal(api.send("POST", path, raw=raw, role=role), field)

    check_all(
        (label, case(path, role, raw, field))
        for label, path, role, raw, field in raw_cases(api, NUMBERS)
    )
    api.healthy()


def test_a_41_digit_number_is_named_but_40_digits_are_read(api: Api) -> None:
    path, _, record = api.bodies["assessment"]
    body = refusal(api.send("POST", path, raw=with_raw(record, ("age",), b"1" * 41)), "age")
    assert "more than 40 digits" in body["errors"][0]["problem"]
    # 40 digits are read as a number: the contract then says it is too large
    body = refusal(api.send("POST", path, raw=with_raw(record, ("age",), b"1" * 40)), "age")
    assert body["errors"][0]["value"] == "<integer of 40 digits>"


def test_text_that_is_not_text_is_named_in_every_string(api: Api) -> None:
    broken = [
        b'"\\ud800"',
        b'"a\\udfffb"',
        b'"\\udc00\\ud800"',
        b'"ab\xffcd"',
        b'"\xed\xa0\x80"',
        b'"\xc0\xaf"',
    ]

    def case(path: str, role: str, raw: bytes, field: str) -> Any:
        def run() -> None:
            body = refusal(api.send("POST", path, raw=raw, role=role), field)
            assert all(error["value"] is None for error in body["errors"]), body

        return run

    check_all(
        (label, case(path, role, raw, field))
        for label, path, role, raw, field in raw_cases(api, broken, strings_only=True)
    )
    path, _, record = api.bodies["assessment"]
    raw = json.dumps(record).encode()[:-1] + b', "x\\ud800": 1}'
    refusal(api.send("POST", path, raw=raw), "x\\ud800")  # a key: named, escaped
    refusal(api.send("POST", path, raw=b"\xff" + json.dumps(record).encode()), "body")
    refusal(api.send("POST", path, raw=b"\xef\xbb\xbf" + json.dumps(record).encode()), "body")
    api.healthy()


def test_a_member_given_twice_is_named_in_every_object(api: Api) -> None:
    def twice(obj: dict[str, Any]) -> bytes:
        first = next(iter(obj))
        rest = json.dumps(obj)[1:]
        return f"{{{json.dumps(first)}: {json.dumps(obj[first])}, {rest}".encode()

    def case(path: str, role: str, raw: bytes, field: str) -> Any:
        return lambda: refusal(api.send("POST", path, raw=raw, role=role), field)

    def cases() -> Iterator[tuple[str, Any]]:
        for name, path, role, body in endpoint_cases(api):
            for at, obj in places(body):
                if isinstance(obj, dict) and obj:
                    field = named((*at, next(iter(obj))))
                    yield f"{name} {field}", case(path, role, with_raw(body, at, twice(obj)), field)

    check_all(cases())
    api.healthy()


def nest(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_deep_nesting_is_refused_and_32_levels_are_read(api: Api) -> None:
    for name, path, role, _ in endpoint_cases(api):
        for depth in (33, 1_000, 100_000):
            for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
                body = refusal(api.send("POST", path, raw=raw, role=role))
                assert "nested deeper than 32 levels" in body["errors"][0]["problem"], (name, body)
    path, role, call = api.bodies["hook"]
    # the body is level 1, so an extension holds 31 levels at most
    assert api.send("POST", path, {**call, "extension": nest(31)}).status_code == 200
    body = refusal(api.send("POST", path, {**call, "extension": nest(32)}))
    assert body["errors"][0]["field"].startswith("extension.a.a"), body
    deep: Any = []
    for _ in range(30):  # the body, the records and 31 levels of lists: 33
        deep = [deep]
    body = refusal(api.send("POST", "/v1/assessments:batch", {"records": [deep]}))
    assert body["errors"][0]["field"].startswith("records.0.0.0"), body
    api.healthy()


WRONG = ["x", "", 5, -1.5, 0, True, None, [], {}, ["x"], {"a": 1}, [{}], "\u0000", "𝔘"]


def test_bodies_of_the_wrong_shape_never_break_the_service(api: Api) -> None:
    def case(path: str, role: str, body: Any) -> Any:
        return lambda: answered(api.send("POST", path, body, role))

    check_all(
        (f"{name} {named(at)}={wrong!r}", case(path, role, replaced(body, at, wrong)))
        for name, path, role, body in endpoint_cases(api)
        for at, _ in places(body)
        for wrong in WRONG
    )
    api.healthy()


ITEMS = ("prefetch", "bookingContext", "item")
CDS_SHAPES = [
    (("context",), "x", "context"),
    (("prefetch",), ["x"], "prefetch"),
    (ITEMS, {"linkId": "age"}, "prefetch.bookingContext.item"),
    (ITEMS, 7, "prefetch.bookingContext.item"),
    ((*ITEMS, 0), 7, "prefetch.bookingContext.item.0"),
    ((*ITEMS, 0, "answer"), {"valueInteger": 3}, "prefetch.bookingContext.item.0.answer"),
    ((*ITEMS, 0, "answer"), 3, "prefetch.bookingContext.item.0.answer"),
    ((*ITEMS, 0, "answer", 0), 3, "prefetch.bookingContext.item.0.answer.0"),
    (
        (*ITEMS, 0, "answer", 0),
        {"valueCoding": "female"},
        "prefetch.bookingContext.item.0.answer.0.valueCoding",
    ),
    (("context", "appointments"), ["x"], "context.appointments"),
]


@pytest.mark.parametrize(("at", "value", "field"), CDS_SHAPES, ids=lambda v: str(v)[:40])
def test_the_cds_shapes_that_broke_the_service_are_named(
    api: Api, at: tuple[Any, ...], value: Any, field: str
) -> None:
    path, _, call = api.bodies["hook"]
    refusal(api.send("POST", path, replaced(call, at, value)), field)


def test_an_outcome_time_outside_utc_is_named(api: Api) -> None:
    path, role, outcome = api.bodies["outcome"]
    for time_ in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        refusal(api.send("POST", path, {**outcome, "confirmed_at": time_}, role), "confirmed_at")
    api.healthy()


def test_a_body_that_is_not_json_is_named(api: Api) -> None:
    for _, path, role, body in endpoint_cases(api):
        text = json.dumps(body).encode()
        for raw in (b"{not json", text[:-1], text + b"x", b"", b"'single'", b"\x00"):
            refusal(api.send("POST", path, raw=raw, role=role), "body")
        for kind in ("text/plain", "application/x-www-form-urlencoded"):
            headers = {"content-type": kind}
            refusal(api.send("POST", path, raw=text, role=role, headers=headers), "body")
    api.healthy()


# -- parameters: path and query -------------------------------------------------------------------

IDS = [
    "not-a-uuid",
    "x" * 5_000,
    "%ED%A0%80",
    "%FF%FE",
    "%00",
    "NaN",
    "1e400",
    "-Infinity",
    "ä" * 200,
    "4e0a3a1e-3283-4575-ab82-028d55fe2719x",
    "131052-308T",
]


def test_hostile_decision_ids_are_named(api: Api) -> None:
    cases = []
    for decision in IDS:
        cases += [
            (f"GET {decision[:20]}", "GET", f"/v1/assessments/{decision}", "auditor"),
            (f"FHIR {decision[:20]}", "GET", f"/v1/assessments/{decision}/fhir", "booking-system"),
            (
                f"outcome {decision[:20]}",
                "POST",
                f"/v1/assessments/{decision}/outcome",
                "coordinator",
            ),
        ]

    def case(method: str, path: str, role: str) -> Any:
        body = {"support_level": "team"} if method == "POST" else None
        return lambda: refusal(api.send(method, path, body, role), "decision_id")

    check_all((label, case(method, path, role)) for label, method, path, role in cases)
    unknown = api.send(
        "GET", "/v1/assessments/00000000-0000-4000-8000-000000000000", role="auditor"
    )
    assert unknown.status_code == 404 and refusal(unknown)
    api.healthy()


def test_hostile_model_card_versions_are_named(api: Api) -> None:
    for version in [
        "NaN",
        "Infinity",
        "1e400",
        "-1",
        "0",
        "1.5",
        "9" * 5_000,
        "%ED%A0%80",
        "%FF",
        "1%00",
        "1&version=2x",
    ]:
        refusal(api.client.get(f"{MODEL_CARD}?version={version}"), "query.version")
    api.healthy()


# -- 3. bounded work --------------------------------------------------------------------------------


def test_a_megabyte_of_empty_records_is_refused_at_once(api: Api) -> None:
    raw = b'{"records": [' + b",".join([b"{}"] * 333_000) + b"]}"
    assert BODY_LIMIT - 10_000 < len(raw) <= BODY_LIMIT
    body = refusal(api.send("POST", "/v1/assessments:batch", raw=raw), "records")
    # Refused on its size, before any record was looked at: one problem, on "records" itself.
    assert len(body["errors"]) == 1 and body["errors"][0]["value"] == "<array of 333000>"
    api.healthy()


def test_a_full_batch_of_broken_records_lists_twenty_problems_and_counts_the_rest(
    api: Api,
) -> None:
    body = refusal(api.send("POST", "/v1/assessments:batch", {"records": [{}] * 50}))
    assert len(body["errors"]) == MAX_REPORTED
    assert "problems; the first 20 are listed" in body["detail"], body["detail"]
    assert all(error["value"] is None for error in body["errors"])  # missing: never the object


def test_huge_unknown_members_give_small_answers(api: Api) -> None:
    huge = "a" * 990_000
    for name, path, role, body in endpoint_cases(api):
        base = body if name != "batch" else body["records"][0]
        for sent in ({"x": huge}, {huge: 1}, {**base, "x": huge}, {**base, huge: 1}):
            refusal(api.send("POST", path, sent if name != "batch" else {"records": [sent]}, role))
    path, role, record = api.bodies["assessment"]
    body = refusal(api.send("POST", path, {**record, "booking_id": huge}), "booking_id")
    assert body["errors"][0]["value"].endswith("...")
    api.healthy()


def test_unknown_members_are_refused_at_every_top_level(api: Api) -> None:
    for _, path, role, body in endpoint_cases(api):
        refusal(api.send("POST", path, {**body, "dry_run": True}, role), "dry_run")
    # CDS Hooks reserves `extension` for extensions: kept at the top of a call and of feedback
    path, role, call = api.bodies["hook"]
    extension = {"org.example.shift": "evening"}
    assert api.send("POST", path, {**call, "extension": extension}).status_code == 200
    path, role, feedback = api.bodies["feedback"]
    sent = {**feedback, "extension": extension}
    sent["feedback"] = [{**feedback["feedback"][0], "extension": extension}]
    assert api.send("POST", path, sent).status_code == 200


def test_a_body_over_the_limit_is_413_even_without_a_length(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"records": ['
        for _ in range(BODY_LIMIT // 10_000 + 1):
            yield b'"' + b"a" * 9_996 + b'",'
        yield b"1]}"

    for path, role, _ in api.bodies.values():
        headers = {"authorization": f"Bearer {api.keys[role]}", "content-type": "application/json"}
        answer = api.client.post(path, content=chunks(), headers=headers)
        assert answer.status_code == 413, (path, answer.text[:200])
        assert answer.json() == {"detail": f"request body over {BODY_LIMIT} bytes"}
    api.healthy()


# -- 3. feedback: one entry a card, a bounded request, no identity codes ----------------------------


def feedback_of(api: Api) -> list[dict[str, Any]]:
    answer = api.send("GET", f"/v1/assessments/{api.card['uuid']}", role="auditor")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["feedback"])


def test_one_request_cannot_store_many_rows_for_one_card(api: Api) -> None:
    path, _, body = api.bodies["feedback"]
    (entry,) = body["feedback"]
    before = len(feedback_of(api))
    refusal(api.send("POST", path, {"feedback": [entry, entry]}), "feedback.1.card")
    started = time.perf_counter()
    refusal(api.send("POST", path, {"feedback": [entry] * 10_000}), "feedback")
    assert time.perf_counter() - started < 2.0
    body = refusal(api.send("POST", path, {"feedback": [entry] * 51}), "feedback")
    assert "at most 50" in body["errors"][0]["problem"]
    assert len(feedback_of(api)) == before  # nothing stored by a refused request
    api.healthy()


def test_a_personal_identity_code_is_refused_in_every_identifier_and_code(api: Api) -> None:
    body = api.bodies["feedback"][2]
    call = api.bodies["hook"][2]
    reason = ("feedback", 0, "overrideReason", "reason")
    appointment = ("context", "appointments", "entry", 0, "resource")
    places_ = [
        (FEEDBACK, body, (*reason, "code"), "{}"),
        (FEEDBACK, body, (*reason, "system"), "urn:kykytutka:{}"),
        (HOOK, call, ("context", "patientId"), "{}"),
        (HOOK, call, ("context", "encounterId"), "enc-{}"),
        (HOOK, call, ("context", "userId"), "Practitioner/{}"),
        (HOOK, call, (*appointment, "id"), "{}"),
        (HOOK, call, ("prefetch", "bookingContext", "id"), "qr-{}"),
        (HOOK, call, ("fhirServer",), "https://ehr.example.org/{}/fhir"),
    ]

    def case(where: str, document: Any, at: tuple[Any, ...], form: str, code: str) -> Any:
        def run() -> None:
            answer = api.send("POST", where, replaced(document, at, form.format(code)))
            body = refusal(answer, named(at))
            assert all(error["value"] is None for error in body["errors"]), body
            assert code not in answer.text  # never echoed

        return run

    check_all(
        (f"{named(at)}={form.format(code)}", case(where, document, at, form, code))
        for where, document, at, form in places_
        for code in IDENTITY_CODES
    )
    api.healthy()


# -- over real HTTP: raw bytes, a chunked upload, a kept-alive connection ----------------------------


def _connection(service: Service) -> http.client.HTTPConnection:
    where = urlsplit(service.url)
    return http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)


def _post(
    connection: http.client.HTTPConnection, service: Service, path: str, raw: bytes
) -> tuple[int, bytes, str | None]:
    headers = {
        "Authorization": f"Bearer {service.keys['booking-system']}",
        "Content-Type": "application/json",
    }
    connection.request("POST", path, body=raw, headers=headers)
    response = connection.getresponse()
    return response.status, response.read(), response.getheader("connection")


def _checked(status: int, raw: bytes, field: str) -> None:
    assert 400 <= status < 500 and len(raw) <= MAX_ANSWER, (status, raw[:300])
    body = json.loads(raw.decode("utf-8"))
    assert field in [error["field"] for error in body["errors"]], body


def test_raw_bytes_over_http_are_named_and_the_connection_stays_open(service: Service) -> None:
    record = as_json_records(generate_cohort("pirkanmaa", 1, seed=5))[0]
    connection = _connection(service)
    try:
        for at, raw, field in (
            (("booking_id",), b'"ab\xff\xfecd"', "booking_id"),
            (("age",), b"1" * 4301, "age"),
            (("age",), b"NaN", "age"),
            (("work_ability_score",), b"1e400", "work_ability_score"),
            (("booking_id",), b'"\\ud800"', "booking_id"),
        ):
            status, answer, closing = _post(
                connection, service, "/v1/assessments", with_raw(record, at, raw)
            )
            _checked(status, answer, field)
            assert closing != "close"  # a refusal keeps the connection
        deep = b"[" * 30_000 + b"]" * 30_000  # under the service's 64 KB
        status, answer, _ = _post(connection, service, "/v1/assessments:batch", deep)
        _checked(status, answer, "body")
        call = hook_request(record)
        for at, value, field in CDS_SHAPES:
            raw = json.dumps(replaced(call, at, value)).encode()
            status, answer, _ = _post(connection, service, HOOK, raw)
            _checked(status, answer, field)
        # the same kept-alive connection still answers
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read()) == {"status": "ok"}
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_413_over_http(service: Service) -> None:
    limit = int(service.env["KYKYTUTKA_MAX_BODY_BYTES"])
    connection = _connection(service)
    chunks = [b'{"records": ['] + [b'"' + b"a" * 998 + b'",'] * (limit // 1_000 + 2) + [b"1]}"]
    headers = {
        "Authorization": f"Bearer {service.keys['booking-system']}",
        "Content-Type": "application/json",
    }
    try:
        # the server may answer, and close, before the last chunk is sent
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(
                "POST", "/v1/assessments:batch", iter(chunks), headers, encode_chunked=True
            )
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read()) == {"detail": f"request body over {limit} bytes"}
    finally:
        connection.close()
    status, body = service.call("GET", "/healthz", role=None)
    assert status == 200 and body == {"status": "ok"}
