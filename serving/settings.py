"""The service's one configuration, read from the environment (prefix KYKYTUTKA_) once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "default", "example", "test"}
STATE_DIR = Path(".kykytutka")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KYKYTUTKA_", frozen=True, extra="ignore")

    model_uri: str = "models:/kykytutka@champion"
    #: local copies of loaded models, so the service starts when the tracking server is down
    model_cache_dir: Path = STATE_DIR / "models"
    #: how often to look whether the champion alias has moved (0: never)
    model_poll_seconds: float = Field(30.0, ge=0)
    #: SQLAlchemy URL: sqlite:///... by default, postgresql+psycopg://... in production
    audit_url: str = f"sqlite:///{STATE_DIR / 'audit.db'}"
    #: keyed hash of client references before they are stored
    pseudonym_key: SecretStr = Field(min_length=32)
    #: hashed API keys with roles (``kykytutka apikey`` writes it)
    api_keys_file: Path = STATE_DIR / "api-keys.json"
    max_body_bytes: int = Field(1_000_000, ge=1_024)
    max_batch: int = Field(1_000, ge=1)
    top_reasons: int = Field(4, ge=1, le=10)
    #: how long a request waits for its audit write before it is answered 503 (nothing decided)
    audit_timeout_seconds: float = Field(1.0, gt=0, le=30)
    #: SQLite audit store only: FULL makes each acknowledged decision survive a power loss;
    #: NORMAL only a crash of the service, for about a third more throughput (README, Speed)
    audit_sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    #: how often the audit chain's head is signed into a checkpoint (0: never)
    checkpoint_seconds: float = Field(60.0, ge=0)
    #: the key that signs checkpoints (``kykytutka secrets``). The default, beside the default
    #: SQLite store, is for local demos only: production keeps the key apart from the audit store
    #: (a separate mount or a secret store), or whoever can write the store can read the key and
    #: sign a chain they rewrote; the service warns at start when both share a directory
    checkpoint_key_file: Path = STATE_DIR / "checkpoint.key"
    #: an append-only file that also gets every signed checkpoint, one fsync'd JSON line each
    #: (created 0600), for ``kykytutka audit verify --checkpoints``: a copy a store's intruder
    #: cannot delete, if it lives elsewhere. Each checkpoint is logged as well (info level, event
    #: ``audit_checkpoint``; the shipped log is the other copy). Unset: the log's copy only
    checkpoint_copy_file: Path | None = None
    #: requests a second each API key may make on average, and in a burst (0: no limit)
    rate_limit_per_second: float = Field(50.0, ge=0)
    rate_limit_burst: int = Field(100, ge=1)
    #: the server's own limits (``kykytutka serve``): request head size and header count, seconds
    #: to send the head and between kept-alive requests, connections served at once
    max_header_bytes: int = Field(16_384, ge=1_024)
    max_headers: int = Field(100, ge=8)
    header_timeout_seconds: float = Field(10.0, gt=0)
    keep_alive_seconds: float = Field(5.0, gt=0)
    max_concurrency: int = Field(200, ge=1)
    #: the service's JSON log lines on stderr: debug, info, warning or error
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("checkpoint_copy_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # KYKYTUTKA_CHECKPOINT_COPY_FILE= (empty) would otherwise be Path("."), a directory
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("pseudonym_key")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret.lower() in PLACEHOLDERS or len(set(secret)) < 8:
            raise ValueError("is a placeholder; generate one with `kykytutka secrets`")
        return value
