"""The monitoring job: it flags a shifting population, stays quiet on the same one, and its
fairness part catches alerting that turns against one group while overall drift stays small."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from monitoring.checks.prediction_drift import PredictionDriftLimits
from monitoring.config import MonitorConfig
from monitoring.monitor import MonitorResult, monitor
from synthetic.cohort import generate_cohort
from tests.monitoring.conftest import run_cli, women_unemployed_longer, write_cohort

# Every test needs the trained champion (the session's project) and generates large cohorts.
pytestmark = [pytest.mark.model, pytest.mark.slow]
CHAMPION = "models:/kykytutka@champion"
NO_AUDIT = "sqlite:///unused-audit.db"


def drifted_features(result: MonitorResult) -> list[str]:
    features = result.checks["feature_drift"].summary["features"]
    return [f["feature"] for f in features if f["drifted"]]


def test_it_flags_the_shift_from_pirkanmaa_to_etela_pohjanmaa(in_project: Path) -> None:
    reference = write_cohort(in_project, "pirkanmaa-ref", "pirkanmaa", 30_000, seed=31)
    current = write_cohort(in_project, "etela-pohjanmaa", "etela-pohjanmaa", 20_000, seed=32)
    out = in_project / "report-regions"
    code, output = run_cli(
        "--reference", str(reference), "--current", str(current), "--out", str(out)
    )
    assert code == 1, output
    assert "BREACH: feature referral_source drifted" in output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "breached"
    assert "referral_source" in [f["feature"] for f in summary["features"] if f["drifted"]]
    # Evidently's own reports, HTML for people and JSON for machines; outcomes in the file
    # give the classification-quality report too.
    for name in (
        "drift.html",
        "drift.json",
        "quality.html",
        "quality.json",
        "index.html",
        "feature_drift.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    evidently = json.loads((out / "drift.json").read_text())
    assert any("referral_source" in m["metric_name"] for m in evidently["metrics"])
    # ...and logged to MLflow, so that trends can be followed run after run.
    runs = mlflow.search_runs(experiment_names=["kykytutka-monitoring"], output_format="list")
    latest = max(runs, key=lambda r: r.info.start_time)
    assert latest.data.tags["kykytutka.status"] == "breached"
    assert latest.data.metrics["drift.referral_source"] >= 0.1
    assert "quality.recall" in latest.data.metrics
    artefacts = {a.path for a in mlflow.MlflowClient().list_artifacts(latest.info.run_id)}
    assert {"drift.html", "index.html", "summary.json"} <= artefacts


def test_it_stays_quiet_on_independent_samples_of_one_region(in_project: Path) -> None:
    """At most 5 % false alarms: at most one of 20 seeds may breach."""
    reference = write_cohort(in_project, "pirkanmaa-quiet-ref", "pirkanmaa", 20_000, seed=40)
    alarms = []
    for seed in range(20):
        current = write_cohort(in_project, f"pirkanmaa-quiet-{seed}", "pirkanmaa", 5_000, seed)
        result = monitor(
            str(reference),
            str(current),
            in_project / f"quiet-{seed}",
            MonitorConfig(),
            CHAMPION,
            NO_AUDIT,
            log_to_mlflow=False,
        )
        if result.breaches:
            alarms.append((seed, result.breaches))
    assert len(alarms) <= 1, alarms


def test_alerting_turning_against_women_is_caught_by_the_fairness_part(
    in_project: Path,
) -> None:
    reference = write_cohort(in_project, "pirkanmaa-ref", "pirkanmaa", 30_000, seed=31)
    changed = women_unemployed_longer(generate_cohort("pirkanmaa", 20_000, seed=50), months=6)
    current = in_project / "women-recorded-differently.parquet"
    changed.to_parquet(current, index=False)
    out = in_project / "report-women"
    result = monitor(str(reference), str(current), out, MonitorConfig(), CHAMPION, NO_AUDIT, False)
    # Overall drift stays small: no feature, nor the alert probability, nor the alert rate
    # moves past its limit...
    limits, metrics = PredictionDriftLimits(), result.metrics()
    assert drifted_features(result) == []
    assert metrics["prediction_drift"] < limits.prediction_threshold
    change = metrics["alert_rate_current"] - metrics["alert_rate_reference"]
    assert abs(change) <= limits.max_alert_rate_change
    # ...yet women's alert rate has moved away from men's, and that is what breaches; the proxy
    # audit sees the same change from the inputs' side: unemployment length now tells sex.
    assert result.exit_code == 1
    assert result.breaches[0].startswith("alert rate of sex=female moved"), result.breaches
    others = result.breaches[1:]
    assert others and all(b.startswith("proxy: ") and "a proxy for sex" for b in others), others
    assert any("months_unemployed" in b or "all model features" in b for b in others), others
    shift = result.checks["alert_rate_shift"].summary["alert_rate_shift"]
    checks = {c["attribute"]: c for c in shift}
    assert not checks["sex"]["passed"] and checks["sex"]["rising"] == "female"
    assert all(c["passed"] for name, c in checks.items() if name != "sex")
    table = pd.read_csv(out / "alert_rate_shift.csv")
    assert set(table["attribute"]) == {"age_band", "sex", "first_language", "region"}


def test_a_number_no_longer_asked_is_drift_not_a_crash(in_project: Path) -> None:
    reference = write_cohort(in_project, "pirkanmaa-ref", "pirkanmaa", 30_000, seed=31)
    stopped = generate_cohort("pirkanmaa", 3_000, seed=80)
    stopped["work_ability_score"] = pd.array([None] * len(stopped), dtype="Int64")
    stopped["sickness_absence_days_12m"] = stopped["sickness_absence_days_12m"].where(
        stopped.index % 3 != 0
    )  # a third newly missing
    current = in_project / "work-ability-not-asked.parquet"
    stopped.to_parquet(current, index=False)
    result = monitor(
        str(reference), str(current), in_project / "report-missing", MonitorConfig(), CHAMPION,
        NO_AUDIT, log_to_mlflow=False,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "work_ability_score" in drifted_features(result)
    missing = result.checks["feature_drift"].summary["missing_shares"]
    by_feature = {d["feature"]: d for d in missing}
    assert by_feature["sickness_absence_days_12m"]["drifted"]
    assert any(
        "sickness_absence_days_12m: its share of missing values" in b for b in result.breaches
    )
