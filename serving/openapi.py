"""The OpenAPI document (``GET /openapi.json``) as the service really answers.

FastAPI describes each route's parameters, body and success from its signature. What it cannot see
is added here (``openapi_document``, installed by ``serving.app``), so that no route module changes:

- the credentials of ``serving.deps.caller``: two security schemes (Bearer, ``X-API-Key``);
- the two error shapes of ``serving.errors`` (``Refusal``, ``ContractViolation``), not FastAPI's
  ``HTTPValidationError``, which the service never sends;
- every status each operation answers (``OPERATIONS``, keyed by method and path; a test keeps it
  and the routes together), with ``WWW-Authenticate`` on a 401 and ``Retry-After`` on a 429;
- what the signatures do not say: media types (FHIR, Prometheus), the readiness body on 503, the
  CDS Hooks bodies as ``serving.cds_hooks.schemas`` checks them, answers built as plain dicts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from serving.cds_hooks.schemas import MAX_FEEDBACK, FeedbackRequest, HookRequest
from serving.errors import MAX_REPORTED
from serving.security import Role

JSON = "application/json"
#: the FHIR view's media type (sent with ``fhirVersion=4.0; charset=utf-8``, ``serving.fhir``)
FHIR_JSON = "application/fhir+json"
BOOKING, AUDITOR, COORDINATOR = Role.BOOKING_SYSTEM, Role.AUDITOR, Role.COORDINATOR
#: the security schemes; an operation that needs a key takes either
SCHEMES = {
    "bearerKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key of `kykytutka apikey`: `Authorization: Bearer <key>`.",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same API key in `X-API-Key: <key>` (used when both are sent: "
        "`Authorization` only when it says `Bearer`).",
    },
}
_CREDENTIAL_HEADERS = {"authorization", "x-api-key"}

DESCRIPTION = f"""\
Work-ability support alerts, client segments and reasons at appointment booking.

**Credentials.** Every `/v1` operation and every CDS Hooks `POST` takes an API key, as
`Authorization: Bearer <key>` or `X-API-Key: <key>`, of the role the operation names: none or an
unknown one is 401 (with `WWW-Authenticate: Bearer`), a key of another role 403. Each key has a
rate limit: past it, 429 with `Retry-After` (whole seconds). `/healthz`, `/readyz`, `/metrics`
and CDS Hooks discovery take none.

**Errors.** Two shapes only: `{{"detail": "..."}}` (`Refusal`) for every refusal, and for every 422
`{{"detail": "...", "errors": [{{"field", "value", "problem"}}]}}` (`ContractViolation`): at most
{MAX_REPORTED} problems (`detail` then counts them all), each naming the field by its dotted place
in the request and echoing its value only as a short JSON scalar (an object or array by its kind,
a missing member or a value that looks like a personal identity code as null).

**Before the app.** The server itself answers 400 to what is not HTTP, 408 to a request whose head
and body do not arrive in time and 431 to a head over the size or header count limit, and closes;
past its limit of connections at once, 503 with `Retry-After`. Any operation answers 413 to a body
over the size limit, 415 (with `Accept-Encoding: identity`) to a `Content-Encoding` other than
`identity`, 501 to a `Transfer-Encoding` other than `chunked`; an unknown path is 404, a method it
does not take 405; a 500 would be a bug.
"""

# -- the shapes ----------------------------------------------------------------------------------

_TEXT: dict[str, Any] = {"type": "string"}
_SCALAR = {
    "type": ["string", "number", "boolean", "null"],
    "description": "the value as sent, as a JSON scalar of at most about 80 characters; an object "
    'or array as its kind ("<object>", "<array of 3>"), a number JSON cannot carry as text; null '
    "for a missing member, a hidden one (a token, a free-text comment) or one that looks like a "
    "personal identity code",
}
_MAYBE_TEXT = {"type": ["string", "null"]}
_ANY_OBJECT = {"type": "object", "additionalProperties": True}


def _object(properties: dict[str, Any], *optional: str, extra: bool = False) -> dict[str, Any]:
    """An object of ``properties``, each required unless named ``optional``; no other member
    unless ``extra``."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "required": required, "properties": properties} | (
        {} if extra else {"additionalProperties": False}
    )


def _array(items: dict[str, Any], **limits: int) -> dict[str, Any]:
    return {"type": "array", "items": items, **limits}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_CODING = _object({"system": _TEXT, "code": _TEXT, "display": _TEXT}, "display")
_UUID = {**_TEXT, "format": "uuid"}
SHAPES: dict[str, dict[str, Any]] = {
    "Refusal": _object({"detail": _TEXT}),
    "Problem": _object(
        {
            "field": {**_TEXT, "description": 'dotted place in the request: "records.1.age"'},
            "value": _SCALAR,
            "problem": _TEXT,
        }
    ),
    "ContractViolation": _object(
        {"detail": _TEXT, "errors": _array(ref("Problem"), minItems=1, maxItems=MAX_REPORTED)}
    ),
    "Health": _object({"status": {"const": "ok"}}),
    "Readiness": _object(
        {
            "ready": {"type": "boolean"},
            "model_version": _MAYBE_TEXT,
            "model_source": _MAYBE_TEXT,
            "audit_store": {"enum": ["ok", "unwritable"]},
            "model_problem": {**_TEXT, "description": "why no model is loaded, when one is not"},
        },
        "model_problem",
    ),
    "Decision": _object(
        {
            "decision_id": _UUID,
            "decided_at": {**_TEXT, "format": "date-time"},
            "booking_id": _TEXT,
            "model_name": _TEXT,
            "model_version": _TEXT,
            "contract_version": _TEXT,
            "alert_probability": {"type": "number", "minimum": 0, "maximum": 1},
            "alert": {"type": "boolean"},
            "segment_id": _TEXT,
            "inputs": {**_ANY_OBJECT, "description": "the booking record, client_ref removed"},
            "output": {**_ANY_OBJECT, "description": "the answer, with every contribution"},
            "feedback": _array(_ANY_OBJECT),
            "outcomes": _array(_ANY_OBJECT),
        },
        extra=True,  # and the audit trail's own columns (its chain, the key that made it)
    ),
    "RiskAssessment": {
        "description": "an HL7 FHIR R4B RiskAssessment (valid in R4 too); its main elements",
        **_object(
            {
                "resourceType": {"const": "RiskAssessment"},
                "id": _TEXT,
                "status": {"const": "final"},
                "subject": _ANY_OBJECT,
                "prediction": _array(_ANY_OBJECT, minItems=1),
            },
            extra=True,
        ),
    },
    "CdsDiscovery": _object(
        {
            "services": _array(
                _object(
                    {
                        "hook": _TEXT,
                        "id": _TEXT,
                        "title": _TEXT,
                        "description": _TEXT,
                        "prefetch": {"type": "object", "additionalProperties": _TEXT},
                        "usageRequirements": _TEXT,
                    },
                    "title",
                    "prefetch",
                    "usageRequirements",
                )
            )
        }
    ),
    "CdsCards": _object({"cards": _array(ref("CdsCard"), maxItems=1)}),
    "CdsCard": _object(
        {
            "uuid": {**_UUID, "description": "the decision id"},
            "summary": {**_TEXT, "maxLength": 140},
            "indicator": {"enum": ["info", "warning"]},
            "detail": {**_TEXT, "description": "GitHub-flavoured Markdown"},
            "source": _object(
                {"label": _TEXT, "url": {**_TEXT, "format": "uri"}, "topic": _CODING},
                "url",
                "topic",
            ),
            "suggestions": _array(
                _object({"label": _TEXT, "uuid": _UUID, "isRecommended": {"type": "boolean"}})
            ),
            "selectionBehavior": {"const": "at-most-one"},
            "overrideReasons": _array(_CODING),
        },
        "detail",
        "suggestions",
        "selectionBehavior",
        "overrideReasons",
    ),
    "CdsFeedbackRecorded": _object(
        {"recorded": {"type": "integer", "minimum": 1, "maximum": MAX_FEEDBACK}}
    ),
}
#: request bodies FastAPI sees as any object, and the models the route checks them with
REQUESTS: dict[str, type[BaseModel]] = {
    "CdsHooksHookRequest": HookRequest,
    "CdsHooksFeedbackRequest": FeedbackRequest,
}

# -- the operations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Documented:
    """One operation: the roles whose key it takes (none: no key), each status it answers besides
    its success and what it means (401, 403 and 429 added when it takes a key), and its success's
    content and request body where FastAPI does not know them."""

    roles: tuple[Role, ...] = ()
    answers: dict[int, str] = field(default_factory=dict)
    success: dict[str, Any] | None = None
    request: str | None = None


#: what every operation that reads a body answers of it (``serving.middleware``)
_BODY = {413: "a body over KYKYTUTKA_MAX_BODY_BYTES", 415: "a Content-Encoding other than identity"}
_BODY[501] = "a Transfer-Encoding other than chunked"
_BROKEN = "a field breaks the contract, or the body is not JSON this service reads"
_NO_DECISION = "no decision with this id"
_BAD_ID = "the decision id is not a UUID"
_UNWRITABLE = "the audit store cannot be written (nothing was recorded)"
_UNREADABLE = "the audit store cannot be read now"
_NOT_DECIDED = "no model is loaded yet, or the audit store cannot be written: no decision was made"


def _json(schema: dict[str, Any], media_type: str = JSON) -> dict[str, Any]:
    return {media_type: {"schema": schema}}


OPERATIONS: dict[tuple[str, str], Documented] = {
    ("POST", "/v1/assessments"): Documented((BOOKING,), {**_BODY, 422: _BROKEN, 503: _NOT_DECIDED}),
    ("POST", "/v1/assessments:batch"): Documented(
        (BOOKING,),
        {
            **_BODY,
            422: f"{_BROKEN}; more records than KYKYTUTKA_MAX_BATCH, or a booking_id twice",
            503: _NOT_DECIDED,
        },
    ),
    ("GET", "/v1/assessments/{decision_id}"): Documented(
        (AUDITOR,), {404: _NO_DECISION, 422: _BAD_ID, 503: _UNREADABLE}, _json(ref("Decision"))
    ),
    ("GET", "/v1/assessments/{decision_id}/fhir"): Documented(
        (BOOKING, AUDITOR),
        {
            404: "no decision with this id made by this key (an auditor reads every one)",
            422: _BAD_ID,
            503: _UNREADABLE,
        },
        _json(ref("RiskAssessment"), FHIR_JSON),
    ),
    ("POST", "/v1/assessments/{decision_id}/outcome"): Documented(
        (COORDINATOR,),
        {
            404: _NO_DECISION,
            **_BODY,
            422: f"{_BAD_ID}, a field is wrong, or the time is in the future or before the "
            "decision",
            503: _UNWRITABLE,
        },
    ),
    ("GET", "/cds-services"): Documented(success=_json(ref("CdsDiscovery"))),
    ("POST", "/cds-services/kykytutka-work-ability"): Documented(
        (BOOKING,),
        {
            412: "the booking context was not prefetched (this service does not fetch it)",
            **_BODY,
            422: "the call does not have the specification's shape, or its booking context "
            "breaks the contract",
            503: _NOT_DECIDED,
        },
        _json(ref("CdsCards")),
        "CdsHooksHookRequest",
    ),
    ("POST", "/cds-services/kykytutka-work-ability/feedback"): Documented(
        (BOOKING,),
        {
            404: "a card this service did not issue to this key (no decision with its id, or "
            "another key's)",
            **_BODY,
            422: "the feedback does not have the specification's shape, or does not fit the card "
            "it names (a decision without a card, a suggestion or override reason it did not "
            "offer)",
            409: "the card already has all the feedback it takes (with corrections): none recorded",
            503: _UNWRITABLE,
        },
        _json(ref("CdsFeedbackRecorded")),
        "CdsHooksFeedbackRequest",
    ),
    ("GET", "/healthz"): Documented(success=_json(ref("Health"))),
    ("GET", "/readyz"): Documented(
        answers={503: "not ready: no model loaded, or the audit store cannot be written"},
        success=_json(ref("Readiness")),
    ),
    ("GET", "/metrics"): Documented(success={"text/plain": {"schema": _TEXT}}),
}

#: the bodies that are not a Refusal: every 422's, and the readiness answer's
_BODIES = {(422, ""): ref("ContractViolation"), (503, "/readyz"): ref("Readiness")}
_HEADERS = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"const": "Bearer"}}},
    429: {
        "Retry-After": {
            "required": True,
            "description": "whole seconds until this key may call again",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def answers_of(documented: Documented) -> dict[int, str]:
    """Every status ``documented`` answers besides its success, with what it means."""
    answers = dict(documented.answers)
    if documented.roles:
        answers[401] = "no API key, or one that is not known"
        if set(documented.roles) != set(Role):
            answers[403] = "the key is of another role"
        answers[429] = "over this key's rate limit; retry after Retry-After seconds"
    return dict(sorted(answers.items()))


def openapi_document(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's ``document`` with what this module adds (see the module's text), in place."""
    document["info"]["description"] = DESCRIPTION
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unsent in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unsent, None)
    schemas.update(copy.deepcopy(SHAPES))
    for name, model in REQUESTS.items():
        schemas.update(_model_schemas(name, model))
    components["securitySchemes"] = copy.deepcopy(SCHEMES)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            documented = OPERATIONS.get((method.upper(), path))
            if documented is not None:
                _document(operation, path, documented)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve ``openapi_document`` at /openapi.json: FastAPI's document (made anew by FastAPI
    when the routes change) with what this module adds."""
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = FastAPI.openapi(app)
        if not done or done[0] is not document:
            done[:] = [openapi_document(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _document(operation: dict[str, Any], path: str, documented: Documented) -> None:
    said = operation.pop("parameters", [])
    parameters = [p for p in said if p["name"].lower() not in _CREDENTIAL_HEADERS]
    for parameter in parameters:
        if parameter["in"] == "path" and parameter["name"] == "decision_id":
            parameter["schema"] = {**parameter["schema"], "format": "uuid"}
            parameter["description"] = "the decision id of an assessment; any other text is 422"
    if parameters:
        operation["parameters"] = parameters
    if documented.roles:
        operation["security"] = [{name: []} for name in SCHEMES]
        roles = " or ".join(role.value for role in documented.roles)
        text = operation.get("description", "").rstrip()
        operation["description"] = f"{text}\n\nCredentials: an API key of the role {roles}."
    if documented.request is not None:
        operation["requestBody"] = {"required": True, "content": _json(ref(documented.request))}
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)
    if documented.success is not None:
        (success,) = responses.values()
        success["content"] = documented.success
    for status, meaning in answers_of(documented).items():
        body = _BODIES.get((status, path)) or _BODIES.get((status, ""), ref("Refusal"))
        answer: dict[str, Any] = {"description": meaning, "content": _json(body)}
        if status in _HEADERS:
            answer["headers"] = _HEADERS[status]
        responses[str(status)] = answer


def _model_schemas(name: str, model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """``model``'s JSON schema as component ``name``, the models it uses as ``CdsHooks<Model>``."""
    schema = model.model_json_schema(ref_template="#/components/schemas/CdsHooks{model}")
    found = {f"CdsHooks{below}": value for below, value in schema.pop("$defs", {}).items()}
    return {**found, name: schema}
