"""Where monitored records come from: booking files, a training run's held-out set, or a time
window of the audit store. Every source ends as one frame: the contract's columns, validated, plus
the model's ``alert_probability`` and ``alert`` and, where known, the outcome ``needs_support``."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.contract import BOOKING_COLUMNS, FIELDS_BY_NAME, TARGET
from data_contracts.validation import ContractError, load_bookings, validate_bookings
from kykytutka.model import KykytutkaModel

PROBABILITY = "alert_probability"
ALERT = "alert"
SUPPORT_LEVEL = "support_level"
MIN_ROWS = 1_000  # below this the drift distances are too noisy to judge
RUN_ID = re.compile(r"^(?:runs:/)?([0-9a-f]{32})/?$")
AUDIT_WINDOW = re.compile(r"^audit:(.+)$")
RELATIVE = re.compile(r"^(\d{1,7})([hd])$")
MAX_WINDOW_DAYS = 3_660


class MonitorInputError(ValueError):
    """A reference or current source that cannot be used (exit code 2); the message says why."""


@dataclass
class Scored:
    """Records with the model's answers, ready to compare."""

    frame: pd.DataFrame
    description: str
    #: model versions that made the answers (several if the champion moved within the window)
    model_versions: list[str] = field(default_factory=list)

    @property
    def has_outcomes(self) -> bool:
        return TARGET in self.frame and bool(self.frame[TARGET].notna().any())

    def labelled(self) -> pd.DataFrame:
        if TARGET not in self.frame:
            return self.frame.iloc[:0]
        return self.frame[self.frame[TARGET].notna()]


def score(model: KykytutkaModel, records: pd.DataFrame) -> pd.DataFrame:
    """``records`` with the model's calibrated probability and alert added."""
    probability = model.alert.predict_proba(records)
    scored = records.copy()
    scored[PROBABILITY] = probability.astype(float)
    scored[ALERT] = model.alerted(probability)
    return scored


def _keep_contract_and_outcome(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in (*BOOKING_COLUMNS, TARGET) if c in frame.columns]
    return frame[columns]


def load_reference(spec: str, model: KykytutkaModel, model_version: str) -> Scored:
    """A booking file, or an MLflow training run (``runs:/<id>`` or the bare id): its held-out
    test set, which the model never saw and which follows the training population."""
    matched = RUN_ID.match(spec)
    if matched and not Path(spec).exists():
        frame = _run_test_set(matched.group(1))
        description = f"held-out test set of run {matched.group(1)}"
    else:
        frame = _booking_file(spec)
        description = spec
    return Scored(score(model, frame), description, [model_version])


def _run_test_set(run_id: str) -> pd.DataFrame:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        with tempfile.TemporaryDirectory() as folder:
            path = MlflowClient().download_artifacts(run_id, "test_set.parquet", folder)
            raw = pd.read_parquet(path)
    except (MlflowException, OSError) as exc:
        message = str(exc).splitlines()[0][:200]
        raise MonitorInputError(f"reference run {run_id}: no test set ({message})") from None
    try:
        return _keep_contract_and_outcome(
            validate_bookings(raw, source=f"run {run_id} test_set.parquet")
        )
    except ContractError as exc:
        raise MonitorInputError(exc.report(limit=10)) from None


def _booking_file(path: str) -> pd.DataFrame:
    if not Path(path).is_file():
        raise MonitorInputError(f"{path}: no such file (give a .csv or .parquet booking file)")
    try:
        frame = load_bookings(path)
    except ContractError as exc:
        raise MonitorInputError(exc.report(limit=10)) from None
    except (OSError, ValueError) as exc:
        raise MonitorInputError(f"{path}: cannot be read ({exc})") from None
    if len(frame) < MIN_ROWS:
        raise MonitorInputError(f"{path}: {len(frame)} records; monitoring needs {MIN_ROWS}+")
    return _keep_contract_and_outcome(frame)


def load_current(
    spec: str, model: KykytutkaModel, model_version: str, audit_url: str, now: datetime
) -> Scored:
    """A booking file (scored now by the model), or ``audit:<window>``: the assessments the
    service made in that window, with the probabilities it answered and the outcomes recorded
    since. Windows: ``audit:7d``, ``audit:24h`` (up to now), or ``audit:2026-11-01..2026-11-23``
    (dates or ISO times, UTC, end exclusive)."""
    matched = AUDIT_WINDOW.match(spec)
    if matched is None:
        return Scored(score(model, _booking_file(spec)), spec, [model_version])
    since, until = parse_window(matched.group(1), now)
    return read_audit_window(audit_url, since, until)


def parse_window(text: str, now: datetime) -> tuple[datetime, datetime]:
    relative = RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        days = amount / 24 if unit == "h" else amount
        if not 0 < days <= MAX_WINDOW_DAYS:
            raise MonitorInputError(
                f"audit window {text!r}: from 1h up to {MAX_WINDOW_DAYS} days (use A..B beyond)"
            )
        span = timedelta(days=days)
        return now - span, now
    if ".." in text:
        start, _, end = text.partition("..")
        since, until = _moment(start, text), _moment(end, text)
        if until <= since:
            raise MonitorInputError(f"audit window {text!r}: the end is not after the start")
        return since, until
    raise MonitorInputError(
        f"audit window {text!r}: use audit:7d, audit:24h or audit:2026-11-01..2026-11-23"
    )


def _moment(text: str, window: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise MonitorInputError(f"audit window {window!r}: {text!r} is not a date") from None
    # Stored times are UTC (SQLite keeps them without a zone), so compare in UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def read_audit_window(
    audit_url: str, since: datetime, until: datetime, labelled_only: bool = False
) -> Scored:
    import sqlalchemy as sa

    from serving.audit import AuditStore, decisions, outcomes

    if (
        audit_url.startswith("sqlite:///")
        and not Path(audit_url.removeprefix("sqlite:///")).is_file()
    ):
        raise MonitorInputError(f"no audit store at {audit_url} (set --audit-url)")
    try:
        store = AuditStore(audit_url)
    except sa.exc.SQLAlchemyError as exc:
        raise MonitorInputError(f"audit store {audit_url}: {str(exc).splitlines()[0]}") from None
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
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(query).all()
    except sa.exc.SQLAlchemyError as exc:
        raise MonitorInputError(f"audit store {audit_url}: {str(exc).splitlines()[0]}") from None
    finally:
        store.engine.dispose()
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
    if len(rows) < MIN_ROWS:
        raise MonitorInputError(f"{window}: {len(rows)} found; monitoring needs {MIN_ROWS}+")
    inputs = pd.DataFrame([parsed for _, parsed, _ in newest.values()])
    # The store keeps only the keyed hash of the client reference; it stands in for it here.
    inputs["client_ref"] = [row.client_ref_hash[:32] for row in rows]
    try:
        frame = validate_bookings(
            inputs[[c for c in BOOKING_COLUMNS if c in inputs]], labelled=False, source=window
        )
    except ContractError as exc:
        raise MonitorInputError(exc.report(limit=10)) from None
    frame[PROBABILITY] = np.array([row.alert_probability for row in rows], dtype=float)
    frame[ALERT] = np.array([bool(row.alert) for row in rows])
    frame[TARGET] = pd.array([needs for needs, _ in known], dtype="boolean")
    frame[SUPPORT_LEVEL] = pd.Categorical(
        [level for _, level in known],
        dtype=FIELDS_BY_NAME[SUPPORT_LEVEL].pandas_dtype,
    )
    versions = sorted({str(row.model_version) for row in rows}, key=_version_order)
    return Scored(frame, window, versions)


def _inputs(stored: Any) -> dict[str, Any]:
    return stored if isinstance(stored, dict) else dict(json.loads(stored))


def labelled_from_audit(audit_url: str) -> pd.DataFrame:
    """Every audited booking whose outcome a coordinator has confirmed, as labelled booking
    records (for ``kykytutka train --audit-url``); the newest outcome of each decision counts."""
    since = datetime(1970, 1, 1, tzinfo=UTC)
    until = datetime(9999, 1, 1, tzinfo=UTC)
    scored = read_audit_window(audit_url, since, until, labelled_only=True)
    frame = scored.frame.drop(columns=[PROBABILITY, ALERT])
    try:
        return validate_bookings(frame, labelled=True, source=scored.description)
    except ContractError as exc:
        raise MonitorInputError(exc.report(limit=10)) from None


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)
