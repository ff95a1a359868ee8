"""The scoring API for booking systems, with an audit trail for auditors: the app and its lifespan.

The routes are in ``serving.routes`` (one module per job), what they depend on in ``serving.deps``,
the decision builder in ``serving.decisions``, every error body in ``serving.errors`` and what the
OpenAPI document says of them in ``serving.openapi``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from audit.store import AuditStore
from data_contracts.booking import CONTRACT_VERSION
from models.registry import IncompatibleModel
from serving.background import checkpoint_audit, watch_champion
from serving.errors import register_error_handlers
from serving.logs import configure_logging, log_event
from serving.metrics import Metrics
from serving.middleware import BodyLimit, Observe
from serving.models import ModelNotAvailable, load_champion
from serving.openapi import install_openapi
from serving.pages import install_pages
from serving.routes import ROUTERS
from serving.security import KeyRing
from serving.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The app; settings from the environment unless given (uvicorn calls this as a factory)."""
    config = settings or ServiceSettings()
    configure_logging(config.log_level)
    app = FastAPI(
        title="Kykytutka",
        version=CONTRACT_VERSION,
        summary="Work-ability support alerts, client segments and reasons at appointment booking.",
        lifespan=lifespan,
    )
    app.state.settings = config
    register_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_pages(app)  # the web pages (/ui): sign-in, front desk, coordinator, auditor
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(Observe)
    install_openapi(app)  # the document as the service answers: credentials, errors, statuses
    return app


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Keys, audit store, metrics and the champion model for as long as the app serves."""
    config: ServiceSettings = app.state.settings
    app.state.keys = KeyRing.load(config.api_keys_file)
    app.state.audit = AuditStore(
        config.audit_url,
        timeout=config.audit_timeout_seconds,
        synchronous=config.audit_sqlite_synchronous,
    )
    app.state.metrics = Metrics()
    app.state.loaded = None
    app.state.model_problem = None
    try:
        # Opens the tracking store too (MLFLOW_TRACKING_URI, else ./mlflow.db: set by the job,
        # never on import), in this worker's turn: workers starting together take turns, the
        # first making a new store's tables and the local copy (serving.models).
        app.state.loaded = load_champion(config.model_uri, config.model_cache_dir)
        log_event("model_loaded", version=app.state.loaded.version, source=app.state.loaded.source)
    except IncompatibleModel as exc:
        # Not served, and said at error level with what to do: a model of an older release.
        app.state.model_problem = str(exc)
        log_event("model_incompatible", logging.ERROR, error=str(exc))
    except ModelNotAvailable as exc:
        app.state.model_problem = str(exc)
        log_event("model_missing", logging.ERROR, error=str(exc))
    # The model lives as long as the process: take it out of the garbage collector's scans,
    # whose pauses would otherwise land on requests.
    gc.collect()
    gc.freeze()
    tasks = [asyncio.create_task(checkpoint_audit(app))]
    if config.model_poll_seconds > 0:
        tasks.append(asyncio.create_task(watch_champion(app, config)))
    yield
    for task in tasks:
        task.cancel()
    app.state.audit.close()  # the writer thread ends, its connection closes
