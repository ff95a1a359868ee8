"""The scoring API for booking systems, with an audit trail for auditors."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, NoReturn

import numpy as np
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audit.store import AuditStore, AuditUnavailable, now, pseudonymise
from data_contracts.booking import CONTRACT_VERSION, BookingRecord
from models.registry import use_tracking
from serving.explain import choose_language, reasons
from serving.interop import (
    SERVICE_ID,
    HookRequestError,
    booking_record_from_hook,
    card,
    discovery,
    risk_assessment,
)
from serving.models import LoadedModel, ModelNotAvailable, load_champion, resolve_version
from serving.security import Caller, KeyRing, Role
from serving.settings import ServiceSettings

log = logging.getLogger("kykytutka.serving")


# -- request and response models ---------------------------------------------------------------


class OverrideCoding(BaseModel):
    code: str = Field(max_length=64)
    system: str | None = None
    display: str | None = None


class OverrideReason(BaseModel):
    reason: OverrideCoding
    userComment: str | None = None  # accepted, never stored: free text  # noqa: N815


class FeedbackItem(BaseModel):
    card: str
    outcome: Literal["accepted", "overridden"]
    overrideReasons: list[OverrideReason] = Field(default_factory=list)  # noqa: N815
    outcomeTimestamp: datetime | None = None  # noqa: N815


class FeedbackRequest(BaseModel):
    feedback: list[FeedbackItem] = Field(min_length=1)


class OutcomeRequest(BaseModel):
    """What a work-ability coordinator confirmed about the client of a decision."""

    model_config = ConfigDict(extra="forbid")

    #: "none": the client did not need work-ability support; otherwise the level they needed
    support_level: Literal["none", "self_care", "consultation", "team"]
    #: when it was confirmed (default: now); a time with its zone, not in the future
    confirmed_at: AwareDatetime | None = None


class OutcomeOut(BaseModel):
    decision_id: str
    needs_support: bool
    support_level: str | None
    confirmed_at: str
    recorded_by: str


class BatchRequest(BaseModel):
    records: list[BookingRecord] = Field(min_length=1)


class SegmentOut(BaseModel):
    id: str
    name: str
    name_fi: str
    name_en: str
    support_level: str
    service_path: list[str]


class ReasonOut(BaseModel):
    field: str
    value: Any
    contribution: float  # log-odds
    direction: str
    text: str


class ModelOut(BaseModel):
    name: str
    version: str
    contract_version: str


class Assessment(BaseModel):
    decision_id: str
    booking_id: str
    decided_at: str
    alert: bool
    alert_level: str
    alert_probability: float
    segment: SegmentOut
    reasons: list[ReasonOut]
    base_value: float  # log-odds; plus all contributions equals raw_score
    raw_score: float
    language: str
    model: ModelOut


class BatchResponse(BaseModel):
    assessments: list[Assessment]


# -- metrics ---------------------------------------------------------------------------------------


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kykytutka_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "kykytutka_request_seconds",
            "Request latency",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.assessments = Counter(
            "kykytutka_assessments", "Assessments by segment", ["segment"], registry=self.registry
        )
        self.alerts = Counter(
            "kykytutka_alerts", "Raised alerts by segment", ["segment"], registry=self.registry
        )


# -- request size limit ----------------------------------------------------------------------------


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting, send)
        except _BodyTooLarge:
            await _too_large(send, self.limit)


class Observe:
    """Request counts and latency by route, as plain ASGI (BaseHTTPMiddleware cost ~1 ms a call)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
            if metrics is not None:
                metrics.requests.labels(path, str(status)).inc()
                metrics.latency.labels(path).observe(time.perf_counter() - started)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- credentials -----------------------------------------------------------------------------------
# Async on purpose: a sync dependency costs a hop to the thread pool on every request, and these
# are a dictionary lookup.


async def caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    key = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise HTTPException(401, "credentials required", {"WWW-Authenticate": "Bearer"})
    found: Caller | None = request.app.state.keys.identify(key)
    if found is None:
        raise HTTPException(401, "unknown credentials", {"WWW-Authenticate": "Bearer"})
    return found


def role(required: Role) -> Callable[[Caller], Awaitable[Caller]]:
    return any_role(required)


def any_role(*allowed: Role) -> Callable[[Caller], Awaitable[Caller]]:
    async def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role not in allowed:
            raise HTTPException(403, f"the role {who.role.value} may not do this")
        return who

    return check


BookingSystem = Annotated[Caller, Depends(role(Role.BOOKING_SYSTEM))]
BookingSystemOrAuditor = Annotated[Caller, Depends(any_role(Role.BOOKING_SYSTEM, Role.AUDITOR))]
Auditor = Annotated[Caller, Depends(role(Role.AUDITOR))]
Coordinator = Annotated[Caller, Depends(role(Role.COORDINATOR))]


# -- the app ---------------------------------------------------------------------------------------


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The app; settings from the environment unless given (uvicorn calls this as a factory)."""
    config = settings or ServiceSettings()
    configure_logging(config.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = config
        app.state.keys = KeyRing.load(config.api_keys_file)
        app.state.audit = AuditStore(config.audit_url)
        app.state.metrics = Metrics()
        app.state.loaded = None
        use_tracking()  # MLFLOW_TRACKING_URI, else ./mlflow.db: set by the job, never on import
        try:
            app.state.loaded = load_champion(config.model_uri, config.model_cache_dir)
            _log("model_loaded", version=app.state.loaded.version, source=app.state.loaded.source)
        except ModelNotAvailable as exc:
            _log("model_missing", error=str(exc))
        # The model lives as long as the process: take it out of the garbage collector's scans,
        # whose pauses would otherwise land on requests.
        gc.collect()
        gc.freeze()
        tasks = [asyncio.create_task(_checkpoint_audit(app))]
        if config.model_poll_seconds > 0:
            tasks.append(asyncio.create_task(_watch_champion(app, config)))
        yield
        for task in tasks:
            task.cancel()
        app.state.audit.engine.dispose()

    app = FastAPI(
        title="Kykytutka",
        version=CONTRACT_VERSION,
        summary="Work-ability support alerts, client segments and reasons at appointment booking.",
        lifespan=lifespan,
    )

    @app.exception_handler(RequestValidationError)
    async def contract_violation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for error in exc.errors():
            location = [str(p) for p in error.get("loc", ()) if p != "body"]
            field = ".".join(location).replace(".records.", "records.") or "body"
            errors.append(
                {
                    "field": field,
                    "value": _json_safe(error.get("input")),
                    "problem": error.get("msg", "invalid"),
                }
            )
        return JSONResponse(
            status_code=422,
            content={"detail": "the request breaks the booking-record contract", "errors": errors},
        )

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        # Every 422 has one shape, whether pydantic or a handler found the problem:
        # {"detail": ..., "errors": [{"field", "value", "problem"}]}.
        if isinstance(exc.detail, dict) and "errors" in exc.detail:
            return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, never a user's mistake: logged with its type, answered without a traceback.
        _log("internal_error", route=request.url.path, error=type(exc).__name__)
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    # The handlers are async on purpose: the work is ~2 ms of CPU, cheaper inline than a hop to
    # the thread pool; answers are serialised once, without re-validating the response model.
    @app.post("/v1/assessments", response_model=Assessment, tags=["assessments"])
    async def assess(
        record: BookingRecord,
        request: Request,
        who: BookingSystem,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Assess one booking: alert, level, probability, segment and the top reasons."""
        assessment = _assess(request, [record], choose_language(accept_language))[0]
        return Response(assessment.model_dump_json(), media_type="application/json")

    @app.post("/v1/assessments:batch", response_model=BatchResponse, tags=["assessments"])
    async def assess_batch(
        batch: BatchRequest,
        request: Request,
        who: BookingSystem,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Assess up to ``max_batch`` bookings at once (all are audited before the answer)."""
        limit = request.app.state.settings.max_batch
        if len(batch.records) > limit:
            _refuse("records", len(batch.records), f"at most {limit} records in one batch")
        seen: set[str] = set()
        for position, record in enumerate(batch.records):
            if record.booking_id in seen:
                _refuse(f"records.{position}.booking_id", record.booking_id, "duplicated in batch")
            seen.add(record.booking_id)
        answer = BatchResponse(
            assessments=_assess(request, batch.records, choose_language(accept_language))
        )
        return Response(answer.model_dump_json(), media_type="application/json")

    @app.get("/v1/assessments/{decision_id}", tags=["audit"])
    def read_decision(decision_id: str, request: Request, who: Auditor) -> dict[str, Any]:
        """For auditors: what was decided, from which inputs, by which model, and why, and what
        staff did with it (CDS Hooks feedback)."""
        row = read_decision_row(request, decision_id)
        audit: AuditStore = request.app.state.audit
        row["feedback"] = [
            {**f, "outcome_at": _iso(f["outcome_at"]), "received_at": _iso(f["received_at"])}
            for f in audit.feedback_for(decision_id)
        ]
        row["outcomes"] = [
            {
                **{k: v for k, v in o.items() if k != "id"},
                "confirmed_at": _iso(o["confirmed_at"]),
                "received_at": _iso(o["received_at"]),
            }
            for o in audit.outcomes_for(decision_id)
        ]
        return row

    @app.post(
        "/v1/assessments/{decision_id}/outcome",
        status_code=201,
        response_model=OutcomeOut,
        tags=["outcomes"],
    )
    def record_outcome(
        decision_id: str, body: OutcomeRequest, request: Request, who: Coordinator
    ) -> OutcomeOut:
        """For work-ability coordinators: the support level the client was confirmed to need.
        Monitoring measures quality and fairness with these labels, and training can learn from
        them. A later call corrects an earlier one; both are kept."""
        decision = read_decision_row(request, decision_id)  # 422 malformed id, 404 unknown
        received = now()
        confirmed = body.confirmed_at.astimezone(UTC) if body.confirmed_at else received
        if confirmed > received + timedelta(minutes=5):
            _refuse("confirmed_at", confirmed.isoformat(), "is in the future")
        if confirmed < datetime.fromisoformat(decision["decided_at"]):
            _refuse("confirmed_at", confirmed.isoformat(), "is before the decision was made")
        level = None if body.support_level == "none" else body.support_level
        row = {
            "decision_id": decision_id,
            "needs_support": level is not None,
            "support_level": level,
            "confirmed_at": confirmed,
            "received_at": received,
            "recorded_by": who.name,
        }
        try:
            request.app.state.audit.record_outcome(row)
        except AuditUnavailable:
            raise HTTPException(503, "the audit store cannot be written") from None
        _log("outcome_recorded", decision_id=decision_id, needs_support=level is not None)
        return OutcomeOut(**{**row, "confirmed_at": confirmed.isoformat()})

    @app.get("/v1/assessments/{decision_id}/fhir", tags=["audit"])
    def read_decision_as_fhir(
        decision_id: str, request: Request, who: BookingSystemOrAuditor
    ) -> JSONResponse:
        """The decision as an HL7 FHIR (R4B) RiskAssessment."""
        row = read_decision_row(request, decision_id)
        return JSONResponse(risk_assessment(row), media_type="application/fhir+json")

    @app.get("/cds-services", tags=["cds-hooks"])
    def cds_discovery() -> dict[str, Any]:
        """CDS Hooks discovery: one service for the appointment-book hook."""
        return discovery()

    @app.post(f"/cds-services/{SERVICE_ID}", tags=["cds-hooks"])
    def cds_appointment_book(
        body: dict[str, Any],
        request: Request,
        who: BookingSystem,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """The appointment-book hook: the booking context in, one card out."""
        try:
            record = BookingRecord.model_validate(booking_record_from_hook(body))
        except HookRequestError as exc:
            _refuse(exc.field, exc.value, exc.problem)
        except ValidationError as exc:
            raise HTTPException(
                422,
                {
                    "detail": "the booking context breaks the booking-record contract",
                    "errors": [
                        {
                            "field": ".".join(str(p) for p in e["loc"]) or "record",
                            "value": _json_safe(e.get("input")),
                            "problem": e["msg"],
                        }
                        for e in exc.errors()
                    ],
                },
            ) from None
        language = choose_language(accept_language)
        assessment = _assess(request, [record], language)[0]
        return {"cards": [card(assessment.model_dump(mode="json"), language)]}

    @app.post(f"/cds-services/{SERVICE_ID}/feedback", tags=["cds-hooks"])
    def cds_feedback(body: FeedbackRequest, request: Request, who: BookingSystem) -> JSONResponse:
        """Whether staff accepted or overrode a card; recorded for oversight of automation bias."""
        rows = []
        for position, item in enumerate(body.feedback):
            if request.app.state.audit.get(item.card) is None:
                _refuse(f"feedback.{position}.card", item.card, "no such decision (card uuid)")
            reason = item.overrideReasons[0].reason.code if item.overrideReasons else None
            rows.append(
                {
                    "decision_id": item.card,
                    "outcome": item.outcome,
                    "override_reason": reason,
                    "outcome_at": item.outcomeTimestamp,
                    "received_at": now(),
                }
            )
        try:
            request.app.state.audit.record_feedback(rows)
        except AuditUnavailable:
            raise HTTPException(503, "the audit store cannot be written") from None
        return JSONResponse(status_code=200, content={"recorded": len(rows)})

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz(request: Request) -> JSONResponse:
        loaded: LoadedModel | None = request.app.state.loaded
        audit_ok = request.app.state.audit.ping()
        ready = loaded is not None and audit_ok
        body = {
            "ready": ready,
            "model_version": loaded.version if loaded else None,
            "model_source": loaded.source if loaded else None,
            "audit_store": "ok" if audit_ok else "unavailable",
        }
        return JSONResponse(status_code=200 if ready else 503, content=body)

    @app.get("/metrics", tags=["operations"])
    def metrics(request: Request) -> Response:
        return Response(
            generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(Observe)
    return app


def _assess(request: Request, records: list[BookingRecord], language: str) -> list[Assessment]:
    state = request.app.state
    loaded: LoadedModel | None = state.loaded  # this request keeps this model, whatever happens
    if loaded is None:
        raise HTTPException(503, "no model loaded yet")
    settings: ServiceSettings = state.settings
    model = loaded.model
    dumped = [record.model_dump(mode="json") for record in records]
    numeric = [record.model_dump() for record in records]
    results = model.explain_records(numeric)
    decided_at = now()
    assessments, rows = [], []
    key = settings.pseudonym_key.get_secret_value()
    for record, values, result in zip(dumped, numeric, results, strict=True):
        segment = model.segmentation.segments[result.segment_id]
        level = str(model.alert_level(np.array([result.probability]))[0])
        alert = bool(model.alerted(np.asarray(result.probability)))
        name = segment.name_fi if language == "fi" else segment.name_en
        assessment = Assessment(
            decision_id=str(uuid.uuid4()),
            booking_id=record["booking_id"],
            decided_at=decided_at.isoformat(),
            alert=alert,
            alert_level=level,
            alert_probability=round(result.probability, 6),
            segment=SegmentOut(
                id=segment.id,
                name=name,
                name_fi=segment.name_fi,
                name_en=segment.name_en,
                support_level=segment.support_level.value,
                service_path=segment.service_path,
            ),
            reasons=[
                ReasonOut(**r)
                for r in reasons(result.contributions, values, language, settings.top_reasons)
            ],
            base_value=result.base_value,
            raw_score=result.raw_score,
            language=language,
            model=ModelOut(
                name=loaded.name, version=loaded.version, contract_version=CONTRACT_VERSION
            ),
        )
        inputs = {**record, "client_ref": None}
        output = assessment.model_dump(mode="json")
        output["contributions"] = result.contributions
        rows.append(
            {
                "decision_id": assessment.decision_id,
                "decided_at": decided_at,
                "client_ref_hash": pseudonymise(record["client_ref"], key),
                "booking_id": record["booking_id"],
                "model_name": loaded.name,
                "model_version": loaded.version,
                "contract_version": CONTRACT_VERSION,
                "alert_probability": result.probability,
                "alert": alert,
                "segment_id": segment.id,
                "inputs": inputs,
                "output": output,
            }
        )
        assessments.append(assessment)
    try:
        state.audit.record(rows)  # before the answer: no decision goes unlogged
    except AuditUnavailable as exc:
        _log("audit_unavailable", error=str(exc)[:200])
        raise HTTPException(
            503, "the audit store cannot be written; no decision was made"
        ) from None
    for assessment in assessments:
        state.metrics.assessments.labels(assessment.segment.id).inc()
        if assessment.alert:
            state.metrics.alerts.labels(assessment.segment.id).inc()
        _log(
            "assessment",
            decision_id=assessment.decision_id,
            model_version=loaded.version,
            alert=assessment.alert,
            segment=assessment.segment.id,
        )
    return assessments


async def _checkpoint_audit(app: FastAPI, every_seconds: float = 2.0) -> None:
    """SQLite WAL checkpoints off the request path (see audit.store)."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await asyncio.to_thread(app.state.audit.checkpoint)
        except Exception as exc:  # a failed checkpoint is retried; requests are unaffected
            _log("audit_checkpoint_failed", error=type(exc).__name__)


async def _watch_champion(app: FastAPI, settings: ServiceSettings) -> None:
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
            _log("model_swapped", version=version)
        except Exception as exc:  # keep serving the model we have
            _log("model_swap_failed", version=version, error=type(exc).__name__)


def read_decision_row(request: Request, decision_id: str) -> dict[str, Any]:
    try:
        uuid.UUID(decision_id)
    except ValueError:
        _refuse("decision_id", decision_id, "not a decision id (UUID)")
    row: dict[str, Any] | None = request.app.state.audit.get(decision_id)
    if row is None:
        raise HTTPException(404, f"no decision {decision_id}")
    row["decided_at"] = _iso(row["decided_at"])
    return row


def _iso(value: Any) -> Any:
    # Times are stored in UTC; SQLite hands them back without a zone, so put it back.
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def _refuse(field: str, value: Any, problem: str) -> NoReturn:
    raise HTTPException(
        422,
        {
            "detail": "the request breaks the booking-record contract",
            "errors": [{"field": field, "value": _json_safe(value), "problem": problem}],
        },
    )


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _log(event: str, **fields: Any) -> None:
    # Structured JSON; never a client reference, never free text from a request.
    log.info(json.dumps({"event": event, **fields}, default=str))


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
