"""For the platform: liveness, readiness (a model loaded and the audit store answering), metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import Audit, Loaded, Prometheus

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, loaded: Loaded, audit: Audit) -> JSONResponse:
    audit_ok = audit.ping()
    ready = loaded is not None and audit_ok
    body = {
        "ready": ready,
        "model_version": loaded.version if loaded else None,
        "model_source": loaded.source if loaded else None,
        "audit_store": "ok" if audit_ok else "unavailable",
    }
    if loaded is None and request.app.state.model_problem:
        body["model_problem"] = request.app.state.model_problem
    return JSONResponse(status_code=200 if ready else 503, content=body)


@router.get("/metrics")
def metrics(registry: Prometheus) -> Response:
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
