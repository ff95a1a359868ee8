"""The service's log: one JSON object a line on stderr, never a client reference or free text."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("kykytutka.serving")


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    # Structured JSON; never a client reference, never free text from a request.
    log.log(level, json.dumps({"event": event, **fields}, default=str))


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, then the event's own fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        head = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        try:
            fields = json.loads(message)
        except ValueError:
            fields = None
        body = fields if isinstance(fields, dict) else {"event": "message", "message": message}
        return json.dumps({**head, **body}, default=str)


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the service's loggers. Runs in every worker process: uvicorn
    spawns its workers, so a configuration made in the parent would not reach them."""
    logger = logging.getLogger("kykytutka")
    logger.setLevel(level.upper())
    if not any(isinstance(h.formatter, JsonLines) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
    logger.propagate = False
