"""Work the service does beside its requests, for as long as it runs (started by the lifespan)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from fastapi import FastAPI

from audit.checkpoints import (
    Checkpoint,
    CheckpointKeyError,
    Signer,
    append_copy,
    key_beside_store,
    load_signer,
)
from audit.store import AuditStore
from serving.logs import log_event
from serving.models import LoadedModel, load_champion, resolve_version
from serving.settings import ServiceSettings


async def checkpoint_audit(app: FastAPI, every_seconds: float = 2.0) -> None:
    """SQLite WAL checkpoints off the request path (see audit.store), and every
    ``checkpoint_seconds`` the audit chain's head signed into a checkpoint if it has moved."""
    settings: ServiceSettings = app.state.settings
    signer = await _signer(settings) if settings.checkpoint_seconds > 0 else None
    if signer is not None:
        _warn_if_key_beside_store(settings)
    tick = every_seconds if signer is None else min(every_seconds, settings.checkpoint_seconds)
    last_signed = time.monotonic()
    while True:
        await asyncio.sleep(tick)
        audit: AuditStore = app.state.audit
        try:
            await asyncio.to_thread(audit.checkpoint)
        except Exception as exc:  # a failed checkpoint is retried; requests are unaffected
            log_event("audit_checkpoint_failed", error=type(exc).__name__)
        if signer is not None and time.monotonic() - last_signed >= settings.checkpoint_seconds:
            last_signed = time.monotonic()
            await sign_checkpoint(audit, signer, settings.checkpoint_copy_file)


async def _signer(settings: ServiceSettings) -> Signer | None:
    try:
        return await asyncio.to_thread(load_signer, settings.checkpoint_key_file)
    except CheckpointKeyError as exc:
        # Without the key the chain is still written and verifiable row by row, but a rewritten
        # chain or a cut tail can no longer be proven. `kykytutka secrets` creates the key.
        log_event("audit_checkpoint_key_unusable", logging.ERROR, error=str(exc))
        return None


def _warn_if_key_beside_store(settings: ServiceSettings) -> None:
    """Say so once at start when the signing key shares the SQLite store's directory (the local
    default): whoever can write the store there can likely read the key and sign a rewrite."""
    database = key_beside_store(settings.checkpoint_key_file, settings.audit_url)
    if database is not None:
        log_event(
            "audit_checkpoint_key_beside_store",
            logging.WARNING,
            key_file=str(settings.checkpoint_key_file),
            audit_db=str(database),
            advice="fine for a local demo; in production keep the checkpoint key apart from the "
            "audit store (a separate mount or a secret store): KYKYTUTKA_CHECKPOINT_KEY_FILE",
        )


async def sign_checkpoint(audit: AuditStore, signer: Signer, copy_file: Path | None = None) -> None:
    """Sign the chain head if it moved, and copy the checkpoint outside the database: to the log
    (shipped elsewhere in production) and to ``copy_file`` if set. Whoever can write the store
    can delete its checkpoints with the tail they cut, but not these copies."""
    try:
        checkpoint = await asyncio.to_thread(audit.sign_checkpoint, signer)
    except Exception as exc:  # tried again next time
        log_event("audit_checkpoint_sign_failed", logging.WARNING, error=str(exc)[:200])
        return
    if checkpoint is None:
        return
    log_event("audit_checkpoint", **checkpoint.as_log())
    if copy_file is not None:
        await _append_copy(copy_file, checkpoint)


async def _append_copy(copy_file: Path, checkpoint: Checkpoint) -> None:
    try:
        await asyncio.to_thread(append_copy, copy_file, checkpoint)
    except Exception as exc:  # serving goes on: the checkpoint is stored and logged all the same
        log_event(
            "audit_checkpoint_copy_failed",
            logging.ERROR,
            file=str(copy_file),
            seq=checkpoint.seq,
            error=str(exc)[:200],
        )


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
