"""For the platform: liveness, readiness (a model loaded and the audit store taking writes),
metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import Audit, Loaded, Prometheus
from serving.logs import log_event

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    # On the event loop, not in the thread pool: it answers even while every worker thread
    # waits for a slow audit store.
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, loaded: Loaded, audit: Audit) -> JSONResponse:
    """Ready when a model is loaded and the audit store takes a write (a heartbeat row, through
    the store's writer, within the audit timeout): a store that answers reads but refuses writes
    would refuse every decision."""
    problem = audit.check_writable()
    state = request.app.state
    if problem is not None:
        log_event("audit_unwritable", logging.ERROR, error=problem)
    elif getattr(state, "audit_unwritable", False):
        log_event("audit_writable_again")
    state.audit_unwritable = problem is not None
    ready = loaded is not None and problem is None
    body = {
        "ready": ready,
        "model_version": loaded.version if loaded else None,
        "model_source": loaded.source if loaded else None,
        "audit_store": "ok" if problem is None else "unwritable",
    }
    if loaded is None and request.app.state.model_problem:
        body["model_problem"] = request.app.state.model_problem
    return JSONResponse(status_code=200 if ready else 503, content=body)


@router.get("/metrics")
def metrics(registry: Prometheus) -> Response:
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
