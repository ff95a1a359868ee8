"""Outcomes come back: monitoring reads a window of the audit store with the outcomes that
coordinators confirmed, and training can learn from them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.store import AuditStore, pseudonymise
from audit.windows import labelled_bookings
from data_contracts.booking import CONTRACT_VERSION, BookingRecord
from data_contracts.records import as_json_records
from data_contracts.validation import validate_bookings
from kykytutka.cli import app
from monitoring.config import MonitorConfig
from monitoring.monitor import monitor
from monitoring.sources import score
from synthetic.cohort import generate_cohort
from tests.monitoring.conftest import write_cohort

# Reading the audit store and learning from it; both need the trained champion.
pytestmark = [pytest.mark.code, pytest.mark.slow]

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ASSESSED = 3_000
CONFIRMED = 2_000  # outcomes arrive for the first two thirds
REPEATED = 10


@pytest.fixture
def audit_url(in_project: Path) -> str:
    """An audit store as the service leaves it: decisions over three days, outcomes for some."""
    path = in_project / "audit-with-outcomes.db"
    url = f"sqlite:///{path}"
    if path.exists():  # made by the other test of this module
        return url
    store = AuditStore(url)
    cohort = generate_cohort("etela-pohjanmaa", ASSESSED, seed=70)
    model = mlflow.pyfunc.load_model("models:/kykytutka@champion").unwrap_python_model()
    scored = score(model, validate_bookings(cohort.drop(columns=["support_level"])))
    rows, outcome_rows = [], []
    for position, record in enumerate(as_json_records(cohort)):
        inputs = BookingRecord.model_validate(record).model_dump(mode="json")
        decision_id = str(uuid.uuid4())
        decided_at = NOW - timedelta(minutes=1) - timedelta(hours=72 * position / ASSESSED)
        rows.append(
            {
                "decision_id": decision_id,
                "decided_at": decided_at,
                "client_ref_hash": pseudonymise(inputs["client_ref"], "k" * 40),
                "booking_id": inputs["booking_id"],
                "model_name": "kykytutka",
                "model_version": "1",
                "contract_version": CONTRACT_VERSION,
                "alert_probability": float(scored["alert_probability"].iloc[position]),
                "alert": bool(scored["alert"].iloc[position]),
                "segment_id": "S1",
                "inputs": {**inputs, "client_ref": None},
                "output": {},
            }
        )
        if position < CONFIRMED:
            level = cohort["support_level"].iloc[position]
            outcome_rows.append(
                {
                    "decision_id": decision_id,
                    "needs_support": bool(cohort["needs_support"].iloc[position]),
                    "support_level": None if pd.isna(level) else str(level),
                    "confirmed_at": decided_at + timedelta(days=10),
                    "received_at": decided_at + timedelta(days=10),
                    "recorded_by": "test-coordinator",
                }
            )
    # Some bookings were assessed again 30 s later (a retry): they count once, with the newest
    # decision and the outcome recorded on the first.
    again = [
        {
            **row,
            "decision_id": str(uuid.uuid4()),
            "decided_at": row["decided_at"] + timedelta(seconds=30),
        }
        for row in rows[100 : 100 + REPEATED]
    ]
    store.record(rows + again)
    for row in outcome_rows:
        store.record_outcome(row)
    store.engine.dispose()
    return url


def test_monitoring_reads_an_audit_window_with_its_outcomes(
    in_project: Path, audit_url: str
) -> None:
    reference = write_cohort(in_project, "pirkanmaa-ref", "pirkanmaa", 30_000, seed=31)
    out = in_project / "report-audit"
    result = monitor(
        str(reference),
        "audit:7d",
        out,
        MonitorConfig(),
        "models:/kykytutka@champion",
        audit_url,
        log_to_mlflow=False,
        now=NOW,
    )
    assert len(result.current.frame) == ASSESSED
    assert len(result.current.labelled()) == CONFIRMED
    assert result.current.model_versions == ["1"]
    # The labels are used: classification quality (Evidently) and TPR/FPR by group.
    quality = {name.removeprefix("quality.") for name in result.checks["quality"].metrics}
    assert {"recall", "precision", "fpr"} <= quality
    assert (out / "quality.html").stat().st_size > 0
    fairness = result.checks["outcome_fairness"].tables["outcome_fairness"]
    assert set(fairness["attribute"]) == {
        "age_band", "sex", "first_language", "region",
    }  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["outcomes_current"] == CONFIRMED
    # A window holds what it says: the last 24 hours are a third of three days.
    day = monitor(
        str(reference), "audit:24h", out, MonitorConfig(), "models:/kykytutka@champion",
        audit_url, log_to_mlflow=False, now=NOW,
    )  # fmt: skip
    assert len(day.current.frame) == pytest.approx(ASSESSED / 3, abs=2)


def test_training_learns_from_confirmed_outcomes(in_project: Path, audit_url: str) -> None:
    labelled = labelled_bookings(audit_url)
    assert len(labelled) == CONFIRMED
    assert labelled["needs_support"].notna().all()
    needed = labelled["needs_support"].to_numpy(dtype=bool)
    assert labelled.loc[needed, "support_level"].notna().all()
    assert labelled.loc[~needed, "support_level"].isna().all()
    config = in_project / "from-outcomes.yaml"
    config.write_text(
        "name: from-outcomes\n"
        "experiment: kykytutka-outcomes\n"
        "register_model: false\n"
        "alert: {n_estimators: 30, min_child_samples: 20}\n"
        "segmentation: {candidate_counts: [3], sample_rows: 1000, bootstrap_refits: 2}\n"
        "fairness: {min_group_size: 50, min_group_positives: 10}\n"
    )
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--audit-url", audit_url])
    assert result.exit_code == 0, result.output
    runs = mlflow.search_runs(experiment_names=["kykytutka-outcomes"], output_format="list")
    parents = [r for r in runs if "data.source" in r.data.params]
    assert len(parents) == 1
    assert parents[0].data.params["data.source"] == f"audit outcomes ({CONFIRMED})"
    assert parents[0].data.params["data.rows"] == str(CONFIRMED)
