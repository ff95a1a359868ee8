"""The OpenAPI document is true and complete (issue #12, part 6): valid OpenAPI 3.1, every
operation's credentials, error shapes and statuses documented, and a bounded schemathesis run over
every operation finding no server error and no answer that breaks the document.

The document is checked with schemathesis's own validator (the OpenAPI 3.1 meta-schema, through
``jsonschema_rs``); each answer with schemathesis's checks: a status the operation documents, its
media type, its body against the documented schema, its documented headers (``Retry-After`` on a
429, ``WWW-Authenticate`` on a 401), and for the fuzzing that a key is really needed where the
document says so (``ignored_auth``).
"""

from __future__ import annotations

import collections
import copy
import json
import os
import secrets
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import jsonschema_rs
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.python.asgi import shutdown_lifespans
from starlette.types import Receive, Scope, Send

from data_contracts.records import as_json_records
from serving.app import create_app
from serving.deps import caller
from serving.errors import contract_violation
from serving.openapi import OPERATIONS
from serving.routes import ROUTERS
from serving.security import Role, create_key
from serving.settings import ServiceSettings
from synthetic.cohort import generate_cohort
from tests.serving.cds_spec import hook_request
from tests.serving.test_failures import client_for

pytestmark = [pytest.mark.code]

HOOK = "/cds-services/kykytutka-work-ability"
FEEDBACK = f"{HOOK}/feedback"
RECORDS = as_json_records(generate_cohort("etela-pohjanmaa", 50, seed=5))  # one full batch
#: the key each operation is called with in the run (this test's own list, not the document's)
ROLES = {
    ("POST", "/v1/assessments"): "booking-system",
    ("POST", "/v1/assessments:batch"): "booking-system",
    ("GET", "/v1/assessments/{decision_id}"): "auditor",
    ("GET", "/v1/assessments/{decision_id}/fhir"): "booking-system",
    ("POST", "/v1/assessments/{decision_id}/outcome"): "coordinator",
    ("POST", HOOK): "booking-system",
    ("POST", FEEDBACK): "booking-system",
}
#: the answer is one the document names, as it describes it
CONFORMANCE = [
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
#: and the run's: no server error, and a key is needed where the document says so
CHECKS = ["not_a_server_error", *CONFORMANCE, "ignored_auth"]
#: hypothesis examples per operation and phase; all of them derandomized, so CI runs the same
MAX_EXAMPLES = 40
#: fewer cases than this for an operation that takes input: the run did not really reach it
MIN_CASES = 20


def config(*checks: str) -> SchemathesisConfig:
    """Only ``checks``; positive and negative cases; the key in the test's own headers."""
    return SchemathesisConfig.from_dict(
        {
            "checks": {"enabled": False, **{name: {"enabled": True} for name in checks}},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
        }
    )


def no_model_settings(folder: Path, **overrides: Any) -> ServiceSettings:
    """Settings of a service without a model, its keys and audit store in ``folder``."""
    return ServiceSettings(
        pseudonym_key=secrets.token_urlsafe(48),
        api_keys_file=folder / "keys.json",
        audit_url=f"sqlite:///{folder / 'audit.db'}",
        model_uri=(folder / "no-model").as_uri(),
        model_cache_dir=folder / "models",
        model_poll_seconds=0,
        checkpoint_seconds=0,
        **overrides,
    )


def no_model_app(tmp_path: Path, **limits: Any) -> tuple[FastAPI, Path]:
    """The service without a model (its answers need none or are 503), keys in ``tmp_path``."""
    return create_app(no_model_settings(tmp_path, **limits)), tmp_path / "keys.json"


def document() -> dict[str, Any]:
    app, _ = no_model_app(Path("/nonexistent"))
    return app.openapi()


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }


# -- the document ------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    spec = document()
    assert spec["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(copy.deepcopy(spec)).validate()
    broken = copy.deepcopy(spec)  # the validator is a real one: it refuses a broken document
    broken["paths"]["/healthz"]["get"]["responses"] = ["200"]
    with pytest.raises(jsonschema_rs.ValidationError):
        schemathesis.openapi.from_dict(broken).validate()


def test_every_operation_is_in_the_table_and_every_entry_is_an_operation() -> None:
    assert set(operations(document())) == set(OPERATIONS)


def _asks_for_a_key(dependant: Dependant) -> bool:
    return any(d.call is caller or _asks_for_a_key(d) for d in dependant.dependencies)


def test_an_operation_takes_a_key_exactly_when_its_route_asks_for_one() -> None:
    routes = {
        (method, route.path): _asks_for_a_key(route.dependant)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }
    spec = document()
    secured = {key: "security" in operation for key, operation in operations(spec).items()}
    assert secured == routes
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerKey"] == {**schemes["bearerKey"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header"}
    assert schemes["apiKey"]["name"] == "X-API-Key"
    for key, operation in operations(spec).items():
        names = {p["name"].lower() for p in operation.get("parameters", [])}
        assert not names & {"authorization", "x-api-key"}, key  # said by the schemes
        if secured[key]:  # either scheme will do
            assert operation["security"] == [{"bearerKey": []}, {"apiKey": []}]
            assert {"401", "403", "429"} <= set(operation["responses"]), key


def test_the_error_shapes_documented_are_the_ones_sent() -> None:
    spec = document()
    assert "HTTPValidationError" not in json.dumps(spec)
    for key, operation in operations(spec).items():
        for status, answer in operation["responses"].items():
            if status.startswith("4") or (key == ("GET", "/readyz") and status == "503"):
                (schema,) = (content["schema"] for content in answer["content"].values())
                name = schema["$ref"].rsplit("/", 1)[1]
                expected = {"422": "ContractViolation"}.get(status, "Refusal")
                assert name == ("Readiness" if key[1] == "/readyz" else expected), (key, status)
    problems = [
        ("client_ref", "131052-308T", "holds a personal identity code"),
        ("records.0.age", float("nan"), "not a number"),
        ("records.1", {"a": 1}, "not a record"),
        ("x" * 5_000, "\ud800" * 100, "y" * 5_000),
    ] * 10
    sent = contract_violation(problems)
    violation = {"$ref": "#/components/schemas/ContractViolation", **spec}
    jsonschema_rs.validator_for(violation).validate(sent)
    assert sent["errors"][0]["value"] is None
    assert "looks like a personal identity code" in sent["errors"][0]["problem"]
    refusal = {"$ref": "#/components/schemas/Refusal", **spec}
    with pytest.raises(jsonschema_rs.ValidationError):  # the two shapes are told apart
        jsonschema_rs.validator_for(refusal).validate(sent)


# -- hostile requests get the statuses the document names --------------------------------------


def test_hostile_requests_are_answered_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    # One request per key: the rate limit (a token a 1,000 s, a burst of 1) lets each key's
    # first request through and refuses its second.
    app, keys_file = no_model_app(
        tmp_path, max_body_bytes=4_096, rate_limit_per_second=0.001, rate_limit_burst=1
    )
    schema = schemathesis.openapi.from_dict(document(), config=config(*CONFORMANCE))
    record, decision = RECORDS[0], "00000000-0000-4000-8000-000000000000"
    via_x_api_key = {"booking-2", "auditor-2"}  # the other scheme
    chunks = (b"x" * 1_024 for _ in range(8))
    unknown_card = {
        "card": decision,
        "outcome": "overridden",
        "outcomeTimestamp": "2025-03-03T09:05:00Z",
    }
    outcome = {"json": {"support_level": "team"}}
    cases: list[tuple[str, str, str | None, dict[str, Any], int]] = [
        ("POST", "/v1/assessments", None, {"json": record}, 401),
        ("POST", "/v1/assessments", "auditor-0", {"json": record}, 403),
        ("POST", "/v1/assessments", "booking-0", {"content": b"x" * 8_192}, 413),
        ("POST", "/v1/assessments", "booking-1", {"content": chunks}, 413),  # no Content-Length
        ("POST", "/v1/assessments", "booking-2", {"content": b'{"age": NaN}'}, 422),
        ("POST", "/v1/assessments", "booking-3", {"json": record}, 503),  # no model
        ("POST", "/v1/assessments", "booking-3", {"json": record}, 429),  # its second request
        ("POST", "/v1/assessments:batch", "booking-4", {"json": {"records": []}}, 422),
        ("GET", "/v1/assessments/{decision_id}", "auditor-1", {}, 404),
        ("GET", "/v1/assessments/{decision_id}/fhir", "auditor-2", {}, 404),
        ("POST", "/v1/assessments/{decision_id}/outcome", "booking-5", {"json": {}}, 403),
        ("POST", HOOK, "booking-6", {"json": hook_request(record, prefetch_key="x")}, 412),
        ("POST", FEEDBACK, "booking-7", {"json": {"feedback": []}}, 422),
        ("POST", FEEDBACK, "booking-8", {"json": {"feedback": [unknown_card]}}, 404),
        ("POST", "/v1/assessments/{decision_id}/outcome", "coordinator-0", {"json": {}}, 422),
        ("POST", "/v1/assessments/{decision_id}/outcome", "coordinator-1", outcome, 404),
        ("GET", "/readyz", None, {}, 503),
        ("GET", "/metrics", None, {}, 200),
        ("GET", "/cds-services", None, {}, 200),
    ]
    roles = {
        "booking": Role.BOOKING_SYSTEM,
        "auditor": Role.AUDITOR,
        "coordinator": Role.COORDINATOR,
    }
    names = {key for _, _, key, _, _ in cases if key is not None}
    keys = {name: create_key(keys_file, name, roles[name.split("-")[0]]) for name in names}
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path, key, sent, status in cases:
            headers = {"Content-Type": "application/json"}
            if key in via_x_api_key:
                headers["X-API-Key"] = keys[key]
            elif key is not None:
                headers["Authorization"] = f"Bearer {keys[key]}"
            answer = client.request(
                method, path.replace("{decision_id}", decision), headers=headers, **sent
            )
            assert answer.status_code == status, (method, path, answer.text)
            documented = schema[path][method].definition.raw["responses"]
            assert str(status) in documented, (method, path, status)
            case = schema[path][method].Case(path_parameters={"decision_id": decision})
            case.validate_response(answer)  # media type, body and headers as documented
    assessment = schema["/v1/assessments"]["POST"].definition.raw["responses"]
    assert {"401", "403", "413", "422", "429", "503"} <= set(assessment)
    assert "Retry-After" in assessment["429"]["headers"]


# -- the bounded schemathesis run over the service with a trained champion -----------------------


RUN: collections.Counter[tuple[str, int]] = collections.Counter()


@pytest.fixture(scope="module")
def served(champion_project: Path) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """The service on the champion, driven in process by schemathesis's ASGI client."""
    saved = dict(os.environ)
    try:
        client, keys = client_for(
            champion_project,
            KYKYTUTKA_RATE_LIMIT_PER_SECOND="0",  # the run is thousands of requests of one key
            KYKYTUTKA_CHECKPOINT_SECONDS="0",
        )
        SERVED.app = client.app
        yield client.app, keys
    finally:
        shutdown_lifespans()  # the service's lifespan, which schemathesis's client started
        SERVED.app = None
        os.environ.clear()
        os.environ.update(saved)
    if RUN:  # the run took place (it was not deselected)
        reached = collections.Counter(label for label, _ in RUN.elements())
        print(f"\nschemathesis: {reached.total()} cases, by status {_by_status()}", file=sys.stderr)
        print("".join(f"  {label}: {n}\n" for label, n in sorted(reached.items())), file=sys.stderr)
        # Each operation the run reached, and took input, was tried often enough. (Which were
        # reached is not checked here: pytest-xdist may end this module fixture between batches
        # of the module's tests; the parametrisation makes one test per documented operation.)
        for key, operation in operations(FUZZED.raw_schema).items():  # those that take input
            label = " ".join(key)
            if label in reached and ("parameters" in operation or "requestBody" in operation):
                assert reached[label] >= MIN_CASES, (key, reached)


def _by_status() -> dict[int, int]:
    counts: collections.Counter[int] = collections.Counter()
    for (_, status), n in RUN.items():
        counts[status] += n
    return dict(sorted(counts.items()))


def _headers(keys: dict[str, str], method: str, path: str) -> dict[str, str]:
    role = ROLES.get((method, path))
    return {} if role is None else {"Authorization": f"Bearer {keys[role]}"}


class Served:
    """The app the run calls, an ASGI app standing for the service once ``served`` has made it
    (the run's operations are made when the tests are collected, before any fixture)."""

    app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the service is made by the served fixture"
        await self.app(scope, receive, send)


SERVED = Served()
# The document as any app of this version serves it (the served one is checked to be the same),
# made as the tests are collected: without the app's logging set-up, which is no business of
# collection.
with mock.patch("serving.app.configure_logging"):
    FUZZED = schemathesis.openapi.from_dict(document(), config=config(*CHECKS))
FUZZED.app = SERVED


def test_the_run_has_one_test_for_each_documented_operation(
    request: pytest.FixtureRequest,
) -> None:
    names = {
        item.name
        for item in request.session.items
        if item.originalname == "test_every_operation_answers_as_documented"
    }
    if names:  # collected in this session (not deselected)
        assert len(names) == len(OPERATIONS), sorted(names)


@pytest.mark.slow  # on a trained champion (about 20 s, shared); the run itself about 15 s
@FUZZED.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    case: Any, served: tuple[FastAPI, dict[str, str]]
) -> None:
    _, keys = served
    method, path = case.operation.method.upper(), case.operation.path
    answer = case.call_and_validate(headers=_headers(keys, method, path))
    RUN[f"{method} {path}", answer.status_code] += 1


@pytest.mark.slow
def test_real_successes_match_their_documented_schemas(
    served: tuple[FastAPI, dict[str, str]],
) -> None:
    app, keys = served
    assert app.openapi() == FUZZED.raw_schema  # the document the run went by is the one served

    def call(method: str, path: str, body: Any = None, **params: str) -> Any:
        sent = {} if body is None else {"body": body}
        case = FUZZED[path][method].Case(path_parameters=params, **sent)
        answer = case.call_and_validate(headers=_headers(keys, method, path))
        assert answer.status_code in (200, 201), (method, path, answer.text)
        return answer.json()

    batch = call("POST", "/v1/assessments:batch", {"records": RECORDS})
    alerted = next(i for i, a in enumerate(batch["assessments"]) if a["alert_level"] != "none")
    decision = call("POST", "/v1/assessments", RECORDS[0])["decision_id"]
    call("GET", "/v1/assessments/{decision_id}", decision_id=decision)
    call("GET", "/v1/assessments/{decision_id}/fhir", decision_id=decision)
    call(
        "POST",
        "/v1/assessments/{decision_id}/outcome",
        {"support_level": "team"},
        decision_id=decision,
    )
    (card,) = call("POST", HOOK, hook_request(RECORDS[alerted], patient_id="openapi-1"))["cards"]
    suggestion = card["suggestions"][0]["uuid"]
    entry = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": suggestion}],
        "outcomeTimestamp": datetime.now(UTC).isoformat(),
    }
    assert call("POST", FEEDBACK, {"feedback": [entry]}) == {"recorded": 1}
    for path in ("/healthz", "/readyz", "/metrics", "/cds-services"):
        case = FUZZED[path]["GET"].Case()
        assert case.call_and_validate().status_code == 200
