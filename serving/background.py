"""Work the service does beside its requests, for as long as it runs (started by the lifespan)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from serving.logs import log_event
from serving.models import LoadedModel, load_champion, resolve_version
from serving.settings import ServiceSettings


async def checkpoint_audit(app: FastAPI, every_seconds: float = 2.0) -> None:
    """SQLite WAL checkpoints off the request path (see audit.store)."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await asyncio.to_thread(app.state.audit.checkpoint)
        except Exception as exc:  # a failed checkpoint is retried; requests are unaffected
            log_event("audit_checkpoint_failed", error=type(exc).__name__)


async def watch_champion(app: FastAPI, settings: ServiceSettings) -> None:
    """Swap in a new champion when the alias moves; a failed load keeps the current model."""
    while True:
        await asyncio.sleep(settings.model_poll_seconds)
        current: LoadedModel | None = app.state.loaded
        version = await asyncio.to_thread(resolve_version, settings.model_uri)
        if version is None or (current is not None and current.version == version):
            continue
        try:
            app.state.loaded = await asyncio.to_thread(
                load_champion, settings.model_uri, settings.model_cache_dir
            )
            log_event("model_swapped", version=version)
        except Exception as exc:  # keep serving the model we have
            log_event("model_swap_failed", version=version, error=type(exc).__name__)
