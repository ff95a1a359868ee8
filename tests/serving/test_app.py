"""The app the factory builds: its routes, their status codes and its middleware (no model)."""

from __future__ import annotations

import secrets

import pytest

from serving.app import create_app
from serving.middleware import BodyLimit, Observe
from serving.settings import ServiceSettings

pytestmark = [pytest.mark.code]

ROUTES = {
    ("POST", "/v1/assessments"): ("assessments", 200),
    ("POST", "/v1/assessments:batch"): ("assessments", 200),
    ("GET", "/v1/assessments/{decision_id}"): ("audit", 200),
    ("GET", "/v1/assessments/{decision_id}/fhir"): ("audit", 200),
    ("POST", "/v1/assessments/{decision_id}/outcome"): ("outcomes", 201),
    ("GET", "/cds-services"): ("cds-hooks", 200),
    ("POST", "/cds-services/kykytutka-work-ability"): ("cds-hooks", 200),
    ("POST", "/cds-services/kykytutka-work-ability/feedback"): ("cds-hooks", 200),
    ("GET", "/healthz"): ("operations", 200),
    ("GET", "/readyz"): ("operations", 200),
    ("GET", "/metrics"): ("operations", 200),
}


def test_the_factory_serves_every_route_of_the_api() -> None:
    app = create_app(ServiceSettings(pseudonym_key=secrets.token_urlsafe(48)))
    openapi = app.openapi()["paths"]
    found = {
        (method.upper(), path): (operation["tags"][0], int(min(operation["responses"])))
        for path, operations in openapi.items()
        for method, operation in operations.items()
    }
    assert found == ROUTES
    assert [m.cls for m in app.user_middleware] == [Observe, BodyLimit]
