"""A check is one module and its configuration: a check defined here, registered and listed in the
configuration, reaches stdout, summary.json, its CSV table, index.html, MLflow and the exit code
through the writers, which know no check by name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from pydantic import Field

from models.config import ConfigError, Frozen
from models.registry import use_tracking
from monitoring.checks import CHECKS, CheckContext, CheckResult, register
from monitoring.config import load_monitor_config
from synthetic.cohort import generate_cohort
from tests.monitoring.conftest import UntrainedModel, run_cli
from tests.projects import inside_project

pytestmark = [pytest.mark.code]


class RowCountLimits(Frozen):
    min_current_rows: int = Field(1, ge=1)


class RowCountCheck:
    """As small as a check can be: too few current records breach."""

    name = "row_count"
    limits_type = RowCountLimits
    files = ("row_counts.csv",)

    def run(self, context: CheckContext, limits: RowCountLimits) -> CheckResult:
        rows = len(context.current.frame)
        breaches = []
        if rows < limits.min_current_rows:
            breaches.append(f"{rows} current records (limit {limits.min_current_rows})")
        return CheckResult(
            breaches=breaches,
            metrics={"row_count.current": float(rows)},
            tables={
                "row_counts": pd.DataFrame(
                    {"side": ["reference", "current"], "rows": [len(context.reference.frame), rows]}
                )
            },
            summary={"row_count": rows},
            lines=[f"current records: {rows:,}"],
            params={"min_current_rows": limits.min_current_rows},
        )


@pytest.fixture
def row_count() -> Iterator[RowCountCheck]:
    check = register(RowCountCheck())
    yield check
    del CHECKS[check.name]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder with a booking file, the MLflow store and an untrained stand-in for the model."""
    monkeypatch.setattr(
        "monitoring.monitor.load_monitored_model", lambda uri: (UntrainedModel(), "7")
    )
    generate_cohort("pirkanmaa", 1_000, seed=3).to_parquet(tmp_path / "bookings.parquet")
    with inside_project(tmp_path):
        yield tmp_path


def monitor_with(folder: Path, limits: str, *options: str) -> tuple[int, str, Path]:
    """Reference and current the same file, so the alert-rate shift check passes."""
    config = folder / "monitor.yaml"
    config.write_text(f"checks: [alert_rate_shift, row_count]\nlimits:\n  row_count: {limits}\n")
    out = folder / "report"
    code, output = run_cli(
        "--reference", "bookings.parquet", "--current", "bookings.parquet", "--out", str(out),
        "--config", str(config), *options,
    )  # fmt: skip
    return code, output, out


def test_a_registered_check_breaches_through_the_generic_writers(
    folder: Path, row_count: RowCountCheck
) -> None:
    (folder / "report").mkdir()
    (folder / "report" / "feature_drift.csv").write_text("an earlier run's\n")
    code, output, out = monitor_with(folder, "{min_current_rows: 5000}", "--no-mlflow")
    assert code == 1, output
    assert "  current records: 1,000\n" in output
    assert "BREACH: 1000 current records (limit 5000)" in output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "breached" and summary["exit_code"] == 1
    assert summary["breaches"] == ["1000 current records (limit 5000)"]
    assert summary["metrics"]["row_count.current"] == 1_000
    assert summary["row_count"] == 1_000
    assert summary["config"]["limits"]["row_count"] == {"min_current_rows": 5_000}
    assert pd.read_csv(out / "row_counts.csv")["rows"].tolist() == [1_000, 1_000]
    assert "<h2>row counts</h2>" in (out / "index.html").read_text()
    # Only the listed checks ran; an earlier run's table of another check is gone.
    assert (out / "alert_rate_shift.csv").is_file()
    assert not (out / "feature_drift.csv").exists()
    assert not (out / "drift.html").exists()
    assert "alert_rate_shift" in summary and "features" not in summary


def test_a_registered_check_within_its_limits_is_logged_to_mlflow(
    folder: Path, row_count: RowCountCheck
) -> None:
    code, output, _ = monitor_with(folder, "{min_current_rows: 500}")
    assert code == 0, output
    assert "BREACH" not in output
    use_tracking(folder)
    (run,) = mlflow.search_runs(experiment_names=["kykytutka-monitoring"], output_format="list")
    assert run.data.tags["kykytutka.status"] == "within limits"
    assert run.data.metrics["row_count.current"] == 1_000
    assert run.data.params["min_current_rows"] == "500"
    assert run.data.params["max_alert_rate_shift_difference"] == "0.02"
    artefacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"row_counts.csv", "alert_rate_shift.csv", "summary.json", "index.html"} <= artefacts


def test_a_check_s_limits_are_validated_by_its_own_model(
    tmp_path: Path, row_count: RowCountCheck
) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("checks: [row_count]\nlimits:\n  row_count: {min_current_rows: 0}\n")
    with pytest.raises(ConfigError, match=r"limits\.row_count\.min_current_rows"):
        load_monitor_config(config)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("checks: [feature_drift, row_count]\n", "unknown check 'row_count'"),
        ("checks: [quality, quality]\n", "check 'quality' is listed twice"),
        ("limits:\n  row_count: {}\n", "limits.row_count: Extra inputs"),
        ("limits:\n  quality: {threshold: 0.1}\n", "limits.quality.threshold: Extra inputs"),
    ],
)
def test_an_unknown_check_or_limit_is_refused_naming_it(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_monitor_config(config)
