"""Where monitored records come from: booking files, a training run's held-out set, or a time
window of the audit store. Every source ends as one frame: the contract's columns, validated, plus
the model's ``alert_probability`` and ``alert`` and, where known, the outcome ``needs_support``."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from audit.windows import ALERT, PROBABILITY, AuditReadError, read_window
from data_contracts.contract import BOOKING_COLUMNS, TARGET
from data_contracts.validation import ContractError, load_bookings, validate_bookings
from models.packaged import KykytutkaModel

__all__ = [
    "ALERT",
    "PROBABILITY",
    "AuditSpan",
    "MonitorInputError",
    "Scored",
    "load_current",
    "load_reference",
]
MIN_ROWS = 1_000  # below this the drift distances are too noisy to judge
RUN_ID = re.compile(r"^(?:runs:/)?([0-9a-f]{32})/?$")
AUDIT_WINDOW = re.compile(r"^audit:(.+)$")
RELATIVE = re.compile(r"^(\d{1,7})([hd])$")
MAX_WINDOW_DAYS = 3_660


class MonitorInputError(ValueError):
    """A reference or current source that cannot be used (exit code 2); the message says why."""


@dataclass(frozen=True)
class AuditSpan:
    """The audit store and the window that records were read from (what else the store holds
    about them, such as the staff feedback on their cards, is read from the same span)."""

    url: str
    since: datetime
    until: datetime


@dataclass
class Scored:
    """Records with the model's answers, ready to compare."""

    frame: pd.DataFrame
    description: str
    #: model versions that made the answers (several if the champion moved within the window)
    model_versions: list[str] = field(default_factory=list)
    #: where in the audit store the records came from; None for a booking file or a run
    audit: AuditSpan | None = None

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
    try:
        window = read_window(audit_url, since, until, labelled_only, min_rows=MIN_ROWS)
    except AuditReadError as exc:
        raise MonitorInputError(str(exc)) from None
    return Scored(
        window.frame, window.description, window.model_versions, AuditSpan(audit_url, since, until)
    )
