"""Reading the audit store back: the decisions of a time window with their latest outcomes, as
validated booking records (monitoring's current window, ``kykytutka train --audit-url``), and what
staff did with the cards of a window (monitoring's override check)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from audit.schema import decisions, feedback, outcomes
from audit.store import shown
from data_contracts.contract import BOOKING_COLUMNS, FIELDS_BY_NAME, TARGET
from data_contracts.validation import ContractError, validate_bookings

PROBABILITY = "alert_probability"
ALERT = "alert"
SUPPORT_LEVEL = "support_level"
#: the columns of ``read_feedback``'s frame; the protected attributes as the client gave them
FEEDBACK_COLUMNS = (
    "decision_id", "decided_at", "segment_id", "outcome", "override_reason", "sex", "age",
    "first_language",
)  # fmt: skip


#: hex digits as letters (g-v)
_LETTERS = str.maketrans("0123456789abcdef", "ghijklmnopqrstuv")


class AuditReadError(ValueError):
    """The audit store, or the window asked of it, cannot be read; the message says why."""


@dataclass
class AuditWindow:
    """Audited bookings: the contract's columns, the answered probability and alert, the outcome."""

    frame: pd.DataFrame
    description: str
    #: model versions that made the answers (several if the champion moved within the window)
    model_versions: list[str] = field(default_factory=list)


def read_window(
    audit_url: str,
    since: datetime,
    until: datetime,
    labelled_only: bool = False,
    min_rows: int = 1,
) -> AuditWindow:
    """The decisions made from ``since`` up to ``until`` (UTC), each booking once: its newest
    decision, with the outcome recorded on any of its decisions."""
    latest = (
        sa.select(outcomes.c.decision_id, sa.func.max(outcomes.c.id).label("id"))
        .group_by(outcomes.c.decision_id)
        .subquery()
    )
    query = (
        sa.select(
            decisions.c.decision_id,
            decisions.c.client_ref_hash,
            decisions.c.model_version,
            decisions.c.alert_probability,
            decisions.c.alert,
            decisions.c.inputs,
            outcomes.c.needs_support,
            outcomes.c.support_level,
        )
        .select_from(
            decisions.outerjoin(latest, latest.c.decision_id == decisions.c.decision_id).outerjoin(
                outcomes, outcomes.c.id == latest.c.id
            )
        )
        .where(decisions.c.decided_at >= since, decisions.c.decided_at < until)
        .order_by(decisions.c.decided_at, decisions.c.decision_id)
    )
    if labelled_only:
        query = query.where(outcomes.c.needs_support.is_not(None))
    rows = _fetch(audit_url, query)
    # A booking assessed again (a retry, a second hook call) counts once: its newest decision.
    # The outcome is the client's: if it was recorded on an earlier decision, it still counts.
    newest: dict[str, tuple[Any, dict[str, Any], tuple[Any, Any]]] = {}
    for row in rows:
        parsed = _inputs(row.inputs)
        booking = str(parsed.get("booking_id"))
        outcome = (row.needs_support, row.support_level)
        if outcome[0] is None and booking in newest:
            outcome = newest[booking][2]
        newest[booking] = (row, parsed, outcome)
    rows = [row for row, _, _ in newest.values()]
    known = [outcome for _, _, outcome in newest.values()]
    window = f"assessments from {since.isoformat()} to {until.isoformat()}"
    if labelled_only:
        window += " with outcomes"
    if len(rows) < min_rows:
        raise AuditReadError(f"{window}: {len(rows)} found; {min_rows}+ needed")
    inputs = pd.DataFrame([parsed for _, parsed, _ in newest.values()])
    # The store keeps only the keyed hash of the client reference; it stands in for it here,
    # spelt in letters: hex digits can spell a personal identity code, which the contract refuses.
    inputs["client_ref"] = [row.client_ref_hash[:32].translate(_LETTERS) for row in rows]
    try:
        frame = validate_bookings(
            inputs[[c for c in BOOKING_COLUMNS if c in inputs]], labelled=False, source=window
        )
    except ContractError as exc:
        raise AuditReadError(exc.report(limit=10)) from None
    frame[PROBABILITY] = np.array([row.alert_probability for row in rows], dtype=float)
    frame[ALERT] = np.array([bool(row.alert) for row in rows])
    frame[TARGET] = pd.array([needs for needs, _ in known], dtype="boolean")
    frame[SUPPORT_LEVEL] = pd.Categorical(
        [level for _, level in known],
        dtype=FIELDS_BY_NAME[SUPPORT_LEVEL].pandas_dtype,
    )
    versions = sorted({str(row.model_version) for row in rows}, key=_version_order)
    return AuditWindow(frame, window, versions)


def read_feedback(audit_url: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Staff feedback on the cards of the decisions made from ``since`` up to ``until`` (UTC): one
    row per booking whose card got feedback (FEEDBACK_COLUMNS), in the order decided.

    A decision's newest feedback row counts (a later one corrects an earlier one); a booking
    assessed again (a retry) counts once, as ``read_window`` counts it: its newest decision that got
    feedback. ``outcome`` is ``accepted`` or ``overridden``, ``override_reason`` the reason code
    (None when none was given), ``age`` the age in years (features.groups.age_band bands it)."""
    latest = (
        sa.select(feedback.c.decision_id, sa.func.max(feedback.c.id).label("id"))
        .group_by(feedback.c.decision_id)
        .subquery()
    )
    query = (
        sa.select(
            decisions.c.decision_id,
            decisions.c.booking_id,
            decisions.c.decided_at,
            decisions.c.segment_id,
            decisions.c.inputs,
            feedback.c.outcome,
            feedback.c.override_reason,
        )
        .select_from(
            decisions.join(latest, latest.c.decision_id == decisions.c.decision_id).join(
                feedback, feedback.c.id == latest.c.id
            )
        )
        .where(decisions.c.decided_at >= since, decisions.c.decided_at < until)
        .order_by(decisions.c.decided_at, decisions.c.decision_id)
    )
    newest: dict[str, dict[str, Any]] = {}
    for row in _fetch(audit_url, query):
        parsed = _inputs(row.inputs)
        newest.pop(row.booking_id, None)  # re-inserted: the order stays the order decided
        newest[row.booking_id] = {
            "decision_id": row.decision_id,
            "decided_at": row.decided_at,
            "segment_id": row.segment_id,
            "outcome": row.outcome,
            "override_reason": row.override_reason,
            "sex": parsed.get("sex"),
            "age": parsed.get("age"),
            "first_language": parsed.get("first_language"),
        }
    return pd.DataFrame(list(newest.values()), columns=list(FEEDBACK_COLUMNS))


def _fetch(audit_url: str, query: sa.Select[Any]) -> list[sa.Row[Any]]:
    """The rows ``query`` selects from the audit store at ``audit_url``; AuditReadError if the
    store is missing or cannot be read."""
    if (
        audit_url.startswith("sqlite:///")
        and not Path(audit_url.removeprefix("sqlite:///")).is_file()
    ):
        raise AuditReadError(f"no audit store at {audit_url} (set --audit-url)")
    # Only read: no writer, no tables created, and a store of an older release (before the hash
    # chain) reads as well, since the columns read here are in both.
    try:
        engine = sa.create_engine(audit_url)
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        raise AuditReadError(f"audit store {shown(audit_url)}: {_first_line(exc)}") from None
    try:
        with engine.connect() as connection:
            return list(connection.execute(query).all())
    except sa.exc.SQLAlchemyError as exc:
        raise AuditReadError(f"audit store {shown(audit_url)}: {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _inputs(stored: Any) -> dict[str, Any]:
    return stored if isinstance(stored, dict) else dict(json.loads(stored))


def labelled_bookings(audit_url: str, min_rows: int = 1_000) -> pd.DataFrame:
    """Every audited booking whose outcome a coordinator has confirmed, as labelled booking
    records (for ``kykytutka train --audit-url``); the newest outcome of each decision counts."""
    since = datetime(1970, 1, 1, tzinfo=UTC)
    until = datetime(9999, 1, 1, tzinfo=UTC)
    scored = read_window(audit_url, since, until, labelled_only=True, min_rows=min_rows)
    frame = scored.frame.drop(columns=[PROBABILITY, ALERT])
    try:
        return validate_bookings(frame, labelled=True, source=scored.description)
    except ContractError as exc:
        raise AuditReadError(exc.report(limit=10)) from None


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)
