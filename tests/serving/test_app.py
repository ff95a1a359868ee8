"""The app the factory builds: its routes, their status codes and its middleware (no model)."""

from __future__ import annotations

import secrets

import pytest
import uvicorn

from serving.app import create_app
from serving.logs import logging_config
from serving.middleware import BodyLimit, Observe
from serving.server import HeadLimits, LimitedHttpTools, uvicorn_config
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


def test_the_server_carries_the_services_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn applies its logging configuration as the configuration is made: not in pytest's
    monkeypatch.setattr(uvicorn.Config, "configure_logging", lambda self: None)
    settings = ServiceSettings(
        pseudonym_key=secrets.token_urlsafe(48),
        max_header_bytes=8192,
        max_headers=50,
        header_timeout_seconds=3,
        keep_alive_seconds=2,
        max_concurrency=64,
        log_level="warning",
    )
    config = uvicorn_config(settings, port=8123, workers=2)
    assert config.http is LimitedHttpTools
    assert config.head_limits == HeadLimits(8192, 50, 3.0)  # type: ignore[attr-defined]
    assert (config.limit_concurrency, config.timeout_keep_alive) == (64, 2.0)
    assert (config.port, config.workers, config.factory) == (8123, 2, True)
    assert config.access_log is False and config.server_header is False
    assert config.log_config == logging_config("warning")
