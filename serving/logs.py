"""The service's log: one JSON object a line on stderr, never a byte of a request.

Every logger of a served process writes through ``JsonLines``: the service's own
(``kykytutka.*``), uvicorn's (``uvicorn.error``, ``uvicorn.access``), Python's warnings and any
library's through the root logger (MLflow's too, taken back from the handler MLflow gives itself).
The service's own lines are the events ``log_event`` writes: their fields are chosen by the
service and never hold a client reference or free text from a request (a ``route`` or ``path``
field is masked as below, should it be a request's path). A line from anyone else keeps only what
cannot carry request data:

- a message's template, never its arguments (uvicorn's access line is ``'%s - "%s %s HTTP/%s" %d'``
  with the client, the path and its query string as arguments); a message formatted before it was
  logged (an f-string; asyncio's ``Exception in callback <repr with arguments>``) is not shown at
  all, except uvicorn's, which are constants (their first line);
- of an exception, its type and where it was raised, never its message or traceback (pydantic's
  message quotes the value it refused);
- of an access line, the method, the path with its query string dropped and every segment that is
  not a route word masked, and the status.

``logging.raiseExceptions`` is off: a line that cannot be formatted is dropped, not printed with
its arguments by ``Handler.handleError``. Uncaught exceptions of the process and its threads are
written the same way (type and place).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

log = logging.getLogger("kykytutka.serving")

SERVICE_LOGGER = "kykytutka"
#: loggers MLflow configures with a handler of its own when it is imported
TAKEN_BY_MLFLOW = ("mlflow", "sqlalchemy.engine", "alembic", "huey")
#: fields of the service's own events that hold a request's path: masked like an access line's
PATH_FIELDS = frozenset({"route", "path"})
#: a library's message template is cut to this length (a template is code, not data, but some
#: are long: a lifespan failure's text is a whole traceback)
TEMPLATE_CHARS = 200
#: a path segment kept in an access line: route words (``v1``, ``assessments:batch``,
#: ``kykytutka-work-ability``); anything else (an identifier, a code, a canary) is masked
_ROUTE_WORD = re.compile(r"(?:[a-z]+(?:-[a-z]+)*(?::[a-z]+)?|v\d)")
FORMATTED_ELSEWHERE = "(formatted by the library before logging: not shown)"
_PROSE = re.compile(r"[^:(<\[{'\"=\n]*")
_TRACEBACK_PLACE = re.compile(r'^  File "([^"]+)", line (\d+), in (\S+)$', re.MULTILINE)
_EXCEPTION_NAME = re.compile(r"[A-Za-z_][\w.]*(?=:|$)")
_WARNING = re.compile(r"^(?P<where>.+?:\d+): (?P<category>\w+):")


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    # Structured JSON; never a client reference, never free text from a request.
    log.log(level, json.dumps({"event": event, **fields}, default=str))


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, then the event's own fields; for any other
    logger than the service's, only what cannot carry request data (see the module's text)."""

    def format(self, record: logging.LogRecord) -> str:
        head = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == SERVICE_LOGGER or record.name.startswith(SERVICE_LOGGER + "."):
            body = _service_fields(record)
        elif record.name == "uvicorn.access":
            body = _access_fields(record)
        elif record.name == "py.warnings":
            body = _warning_fields(record)
        else:
            body = {"event": "library", "message": _template(record), **_traceback_fields(record)}
        if record.exc_info and record.exc_info[1] is not None:
            body = {**body, **exception_fields(record.exc_info[1])}
        return json.dumps({**head, **body}, default=str)

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        # Never a traceback (some handlers call this directly).
        return ""

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return ""


def exception_fields(exc: BaseException) -> dict[str, str]:
    """An exception as its type and the place it was raised: never its message, never its
    arguments (which may quote a request), never a traceback."""
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    fields = {"error": name}
    tb = exc.__traceback__
    if tb is not None:
        while tb.tb_next is not None:
            tb = tb.tb_next
        code = tb.tb_frame.f_code
        fields["where"] = f"{_short_path(code.co_filename)}:{tb.tb_lineno} in {code.co_name}"
    if exc.__cause__ is not None or exc.__context__ is not None:
        inner = exc.__cause__ or exc.__context__
        fields["caused_by"] = type(inner).__qualname__
    return fields


def _service_fields(record: logging.LogRecord) -> dict[str, Any]:
    if record.args:
        # printf-style from the service's own code: the template only
        return {"event": "message", "message": _template(record)}
    message = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    try:
        fields = json.loads(message)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        return {"event": "message", "message": message}
    for name in PATH_FIELDS & fields.keys():
        # A request's path may hold anything its client put there: route words only.
        fields[name] = _masked_path(str(fields[name]))
    return fields


def _access_fields(record: logging.LogRecord) -> dict[str, Any]:
    # uvicorn: (client address, method, path with query string, HTTP version, status)
    args = record.args if isinstance(record.args, tuple) else ()
    if len(args) != 5:
        return {"event": "access", "message": _template(record)}
    method, target, status = args[1], args[2], args[4]
    return {
        "event": "access",
        "method": method if str(method).isalpha() and len(str(method)) <= 10 else "{}",
        "path": _masked_path(str(target)),
        "status": status if isinstance(status, int) else None,
    }


def _masked_path(path: str) -> str:
    """A request path without its query string, every segment but route words masked:
    ``/v1/assessments/{}/fhir``."""
    segments = path.split("?", 1)[0].split("/")
    return "/".join(s if not s or _ROUTE_WORD.fullmatch(s) else "{}" for s in segments)


def _warning_fields(record: logging.LogRecord) -> dict[str, Any]:
    # logging.captureWarnings: "file:line: Category: message\n  source line", formatted
    text = str(record.args[0]) if isinstance(record.args, tuple) and record.args else record.msg
    found = _WARNING.match(text)
    if found is None:
        return {"event": "warning"}
    where = found["where"]
    path, _, line = where.rpartition(":")
    return {
        "event": "warning",
        "category": found["category"],
        "where": f"{_short_path(path)}:{line}",
    }


def _template(record: logging.LogRecord) -> str:
    if not isinstance(record.msg, str):
        return type(record.msg).__name__  # a logged object: its repr or str may quote anything
    if record.args:
        return record.msg.strip()[:TEMPLATE_CHARS]
    if record.name == "uvicorn" or record.name.startswith("uvicorn."):
        # uvicorn's messages without arguments are constants ("Invalid HTTP request received.");
        # a lifespan failure's is a traceback: its first line only.
        return _PROSE.match(record.msg.strip())[0].strip()[:TEMPLATE_CHARS]  # type: ignore[index]
    # Formatted before it was logged (an f-string; asyncio's "Exception in callback <repr with
    # its arguments>"): any part of it may be data, so none of it is shown.
    return FORMATTED_ELSEWHERE


def _traceback_fields(record: logging.LogRecord) -> dict[str, str]:
    """Of a traceback uvicorn logs as text (an app's failed startup), the exception's type and
    the place it was raised: its last ``File "...", line N, in f`` and the name before its last
    line's colon, never that line's message."""
    if not (
        isinstance(record.msg, str)
        and record.msg.startswith("Traceback")
        and record.name.startswith("uvicorn")
    ):
        return {}
    places = _TRACEBACK_PLACE.findall(record.msg)
    last = record.msg.rstrip().rsplit("\n", 1)[-1]
    kind = _EXCEPTION_NAME.match(last)
    fields = {"error": kind[0] if kind else "unknown"}
    if places:
        path, line, function = places[-1]
        fields["where"] = f"{_short_path(path)}:{line} in {function}"
    return fields


def _short_path(path: str) -> str:
    for marker in ("site-packages/", "/lib/python"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


# -- configuration ---------------------------------------------------------------------------------


def logging_config(level: str) -> dict[str, Any]:
    """``logging.config.dictConfig`` for the whole process: every logger through ``JsonLines`` on
    stderr. uvicorn applies it in the parent and again in every worker it spawns. uvicorn's own
    lines at warning unless the service logs at debug; no access lines (the metrics count
    requests; an access line a request would cost throughput)."""
    service = level.upper()
    uvicorn = {"DEBUG": "INFO", "ERROR": "ERROR"}.get(service, "WARNING")
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "serving.logs.process_formatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            SERVICE_LOGGER: {"handlers": ["stderr"], "level": service, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": uvicorn, "propagate": False},
            "uvicorn.error": {"level": uvicorn},
            "uvicorn.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "uvicorn.asgi": {"level": "WARNING"},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


def configure_logging(level: str) -> None:
    """JSON lines on stderr for every logger of the process. Runs in every worker process (the app
    factory calls it): uvicorn spawns its workers, so a configuration made in the parent would not
    reach them. Leaves a configuration ``logging_config`` already made (``kykytutka serve``)."""
    service = logging.getLogger(SERVICE_LOGGER)
    service.setLevel(level.upper())
    if not any(isinstance(h.formatter, JsonLines) for h in service.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLines())
        service.addHandler(handler)
    service.propagate = False
    if any(isinstance(h.formatter, JsonLines) for h in logging.getLogger().handlers):
        # A served process (``logging_config``): MLflow, imported with the app, gave itself and
        # SQLAlchemy's engine, alembic and huey a plain handler of their own; their lines go
        # through the root's instead (levels kept).
        for name in TAKEN_BY_MLFLOW:
            taken = logging.getLogger(name)
            taken.handlers = []
            taken.propagate = True


def process_formatter() -> JsonLines:
    """The formatter of ``logging_config``; building it also guards the process (below), in the
    parent and in every worker, where uvicorn applies the configuration again."""
    guard_process()
    return JsonLines()


def guard_process() -> None:
    """Make the process's last-resort printing as safe as its log: a line that fails to format is
    dropped (not printed with its arguments), Python's warnings go through the log, and uncaught
    exceptions, in the main thread or any other, are logged as type and place."""
    logging.raiseExceptions = False
    logging.captureWarnings(True)
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread


def _uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if exc.__traceback__ is None and tb is not None:
        exc = exc.with_traceback(tb)
    log.error(json.dumps({"event": "uncaught_exception", **exception_fields(exc)}))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
        _uncaught(args.exc_type, args.exc_value, args.exc_traceback)
