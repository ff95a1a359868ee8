"""The auditor's pages: decisions (filtered, paginated, without client references), one decision
in full (inputs, a waterfall of its contributions, reasons in three languages, model, feedback,
outcomes, the FHIR view, the chain at this record), the models and the monitoring runs."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from audit.at_record import verify_at
from audit.checkpoints import CheckpointKeyError, Verifier, load_verifier, public_key_file
from audit.schema import decisions, feedback, outcomes
from audit.store import AuditStore, AuditUnavailable
from data_contracts.identity import contains_personal_identity_code
from features.spec import LANGUAGES
from models.packaged import AlertLevel
from serving.cds_hooks.texts import OVERRIDE_REASONS
from serving.decisions import utc_iso
from serving.explain import reasons
from serving.interop import risk_assessment
from serving.pages.charts import Step, decimal_mark, waterfall_svg
from serving.pages.fields import field_label, value_label
from serving.pages.forms import shown
from serving.pages.render import language_of, page
from serving.pages.session import Session, signed_in
from serving.security import KeyRing, Role

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_PAGE = 10_000
LEVELS = tuple(level.value for level in AlertLevel)  # none, raised, high
SUPPORT = ("none", "self_care", "consultation", "team")


class BadFilter(Exception):
    def __init__(self, field: str, value: str, problem: str) -> None:
        super().__init__(field)
        self.detail = f"{shown(field, 40).strip(chr(39))}: {shown(value)} {problem}"


def _date(name: str, raw: str | None, end: bool = False) -> datetime | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(name, raw, "is not a date (YYYY-MM-DD)") from None
    moment = datetime.combine(day, time.min, UTC)
    if end and day == date.max:
        return None  # to the end of the calendar: no upper bound
    return moment + timedelta(days=1) if end else moment


def _choice(name: str, raw: str | None, allowed: tuple[str, ...]) -> str | None:
    if not raw:
        return None
    if raw not in allowed:
        raise BadFilter(name, raw, f"is not one of {', '.join(allowed)}")
    return raw


def _text(name: str, raw: str | None) -> str | None:
    if not raw:
        return None
    if len(raw) > 64 or not raw.isprintable() or contains_personal_identity_code(raw):
        raise BadFilter(name, raw, "is not a name of at most 64 characters")
    return raw


def _filters(request: Request) -> tuple[dict[str, str], list[Any], int]:
    q = request.query_params
    known = {"from", "until", "level", "segment", "support", "model", "system", "feedback",
             "outcome", "page", "lang"}  # fmt: skip
    for name in q:
        if name not in known:
            raise BadFilter(name, q[name], "is not a filter of this page")
    where: list[Any] = []
    if (start := _date("from", q.get("from"))) is not None:
        where.append(decisions.c.decided_at >= start)
    if (end := _date("until", q.get("until"), end=True)) is not None:
        where.append(decisions.c.decided_at < end)
    if level := _choice("level", q.get("level"), LEVELS):
        where.append(decisions.c.output["alert_level"].as_string() == level)
    if support := _choice("support", q.get("support"), SUPPORT):
        path = decisions.c.output[("recommendation", "support_level")].as_string()
        where.append(path == support)
    if segment := _text("segment", q.get("segment")):
        where.append(decisions.c.segment_id == segment)
    if model := _text("model", q.get("model")):
        where.append(decisions.c.model_version == model)
    if system := _text("system", q.get("system")):
        where.append(decisions.c.made_by == system)
    for name, table in (("feedback", feedback), ("outcome", outcomes)):
        if given := _choice(name, q.get(name), ("with", "without")):
            exists = sa.exists().where(table.c.decision_id == decisions.c.decision_id)
            where.append(exists if given == "with" else ~exists)
    raw_page = q.get("page") or "1"
    if not re.fullmatch(r"[0-9]{1,6}", raw_page) or not 1 <= int(raw_page) <= MAX_PAGE:
        raise BadFilter("page", raw_page, f"is not a page number from 1 to {MAX_PAGE}")
    chosen = {k: v for k, v in q.items() if k in known - {"page", "lang"} and v}
    return chosen, where, int(raw_page)


@router.get("/ui/decisions")
def decision_list(request: Request) -> HTMLResponse:
    session = signed_in(request, Role.AUDITOR)
    try:
        chosen, where, number = _filters(request)
    except BadFilter as bad:
        return page(request, "message.html", session, 422, message="bad_input", detail=bad.detail)
    audit: AuditStore = request.app.state.audit
    has = {
        name: sa.exists().where(table.c.decision_id == decisions.c.decision_id).label(name)
        for name, table in (("has_feedback", feedback), ("has_outcome", outcomes))
    }
    query = (
        sa.select(
            decisions.c.decision_id, decisions.c.decided_at, decisions.c.alert_probability,
            decisions.c.segment_id, decisions.c.model_version, decisions.c.made_by,
            decisions.c.output["alert_level"].as_string().label("level"),
            decisions.c.output[("recommendation", "support_level")].as_string().label("support"),
            *has.values(),
        )
        .where(*where)
        .order_by(decisions.c.seq.desc())
        .limit(PAGE_SIZE + 1)
        .offset((number - 1) * PAGE_SIZE)
    )  # fmt: skip
    try:
        with audit.engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(query)]
    except sa.exc.SQLAlchemyError:
        return page(request, "message.html", session, 503, message="unavailable")
    return page(
        request, "decisions.html", session,
        rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE, number=number, chosen=chosen,
        options=_with_chosen(_options(request), chosen), levels=LEVELS, supports=SUPPORT, query=_query,
    )  # fmt: skip


def _options(request: Request) -> dict[str, list[str]]:
    """The values the text filters offer, without reading the decisions (a DISTINCT over 100,000
    of them took a second): the loaded model's segments and version, and the names of the keys
    that may ask for assessments. Other values are still taken, typed in the address."""
    state = request.app.state
    loaded = state.loaded
    keys: KeyRing = state.keys
    return {
        "segment": sorted(loaded.model.segmentation.segments) if loaded else [],
        "model": [str(loaded.version)] if loaded else [],
        "system": keys.names(Role.BOOKING_SYSTEM, Role.FRONT_DESK),
    }


def _with_chosen(options: dict[str, list[str]], chosen: dict[str, str]) -> dict[str, list[str]]:
    return {name: sorted({*values, *([chosen[name]] if name in chosen else [])})
            for name, values in options.items()}  # fmt: skip


def _query(chosen: dict[str, str], **changes: Any) -> str:
    from urllib.parse import urlencode

    merged = {**chosen, **{k: str(v) for k, v in changes.items()}}
    return urlencode(merged)


@router.get("/ui/decisions/{decision_id}")
def decision_page(request: Request, decision_id: str) -> HTMLResponse:
    session = signed_in(request, Role.AUDITOR)
    try:
        decision_id = str(uuid.UUID(decision_id))
    except ValueError:
        return page(request, "message.html", session, 404, message="not_found")
    audit: AuditStore = request.app.state.audit
    try:
        row = audit.get(decision_id)
        if row is None:
            return page(request, "message.html", session, 404, message="not_found")
        given = audit.feedback_for(decision_id)
        confirmed = audit.outcomes_for(decision_id)
    except AuditUnavailable:
        return page(request, "message.html", session, 503, message="unavailable")
    return _render_decision(request, session, row, given, confirmed)


def _render_decision(
    request: Request, session: Session, row: dict[str, Any], given: list[Any], confirmed: list[Any]
) -> HTMLResponse:
    language = language_of(request)
    inputs: dict[str, Any] = row["inputs"]
    output: dict[str, Any] = row["output"]
    contributions: dict[str, float] = output.get("contributions", {})
    base = float(output["base_value"])
    raw = float(output["raw_score"])
    steps = [
        Step(
            field_label(name, language), float(value), value_label(name, inputs.get(name), language)
        )
        for name, value in contributions.items()
    ]
    threshold = _raw_threshold(request, row)
    with decimal_mark("," if language in ("fi", "sv") else "."):
        chart = waterfall_svg(
            base, steps, threshold=threshold, title=_t("waterfall", language),
            base_label=_t("base_value", language), total_label=_t("raw_score", language),
            threshold_label=_t("threshold", language),
            probability_label=_t("probability", language),
            probability=float(row["alert_probability"]),
        )  # fmt: skip
    top = request.app.state.settings.top_reasons
    all_reasons = {code: reasons(contributions, inputs, code, top) for code in LANGUAGES}
    fhir_row = {**row, "decided_at": utc_iso(row["decided_at"])}
    fhir = json.dumps(risk_assessment(fhir_row), indent=2, ensure_ascii=False)
    chain = verify_at(request.app.state.audit.engine, int(row["seq"]), _verifier(request))
    shown_inputs = [
        (field_label(name, language), value_label(name, value, language))
        for name, value in inputs.items()
        if name != "client_ref"
    ]
    return page(
        request, "decision.html", session,
        row=row, output=output, inputs=shown_inputs, chart=chart, raw=raw, base=base,
        all_reasons=all_reasons, given=given, confirmed=confirmed, fhir=fhir, chain=chain,
        override_reasons=OVERRIDE_REASONS,
    )  # fmt: skip


def _t(key: str, language: str) -> str:
    from serving.pages.texts import TEXTS

    return TEXTS[key][language]


def _raw_threshold(request: Request, row: dict[str, Any]) -> float | None:
    """The raw score (log-odds) at which the model that decided alerts: the calibration read
    backwards. Known for the loaded model's version only (None for another)."""
    loaded = request.app.state.loaded
    if loaded is None or str(loaded.version) != str(row["model_version"]):
        return None
    model = loaded.model
    threshold = model.metadata.alert_threshold
    grid = np.linspace(-12, 12, 4801)
    calibrated = model.alert.calibrate(grid)
    reached = np.nonzero(calibrated >= threshold)[0]
    return float(grid[reached[0]]) if reached.size else None


def _verifier(request: Request) -> Verifier | None:
    key_file = request.app.state.settings.checkpoint_key_file
    try:
        return load_verifier(public_key_file(key_file))
    except (CheckpointKeyError, OSError):
        return None
