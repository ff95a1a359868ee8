"""The monitor command's inputs and outputs: where a reference comes from, bad input and a bad
configuration exit 2 saying why, and the shipped configuration states the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.store import AuditStore
from monitoring.config import MonitorConfig, load_monitor_config
from monitoring.monitor import monitor
from synthetic.cohort import generate_cohort
from tests.monitoring.conftest import run_cli, write_cohort

pytestmark = [pytest.mark.code]
CHAMPION = "models:/kykytutka@champion"
NO_AUDIT = "sqlite:///unused-audit.db"


@pytest.mark.slow
def test_a_reference_can_be_a_training_run(in_project: Path) -> None:
    run_id = (in_project / "run_id").read_text()
    current = write_cohort(in_project, "pirkanmaa-run-cur", "pirkanmaa", 5_000, seed=60)
    result = monitor(
        run_id, str(current), in_project / "report-run", MonitorConfig(), CHAMPION, NO_AUDIT, False
    )
    assert result.reference.description == f"held-out test set of run {run_id}"
    assert len(result.reference.frame) > 1_000


@pytest.mark.slow
@pytest.mark.parametrize(
    ("reference", "current", "expected"),
    [
        ("missing.parquet", "pirkanmaa-ref.parquet", "missing.parquet: no such file"),
        ("pirkanmaa-ref.parquet", "audit:yesterday", "audit window 'yesterday'"),
        ("pirkanmaa-ref.parquet", "audit:2026-11-05..2026-11-01", "the end is not after"),
        ("pirkanmaa-ref.parquet", "audit:7d", "0 found; 1000+ needed"),
        ("pirkanmaa-ref.parquet", "audit:30d", "no audit store at sqlite:///"),
        ("0123456789abcdef0123456789abcdef", "pirkanmaa-ref.parquet", "reference run"),
        ("broken.csv", "pirkanmaa-ref.parquet", "work_ability_score"),
        ("small.parquet", "pirkanmaa-ref.parquet", "small.parquet: 50 records"),
    ],
)
def test_bad_input_exits_2_saying_why(
    in_project: Path, reference: str, current: str, expected: str
) -> None:
    write_cohort(in_project, "pirkanmaa-ref", "pirkanmaa", 30_000, seed=31)
    write_cohort(in_project, "small", "pirkanmaa", 50, seed=1)
    empty = AuditStore(f"sqlite:///{in_project / 'empty-audit.db'}")  # tables, no decisions
    empty.engine.dispose()
    broken = generate_cohort("pirkanmaa", 2_000, seed=2)
    broken["work_ability_score"] = broken["work_ability_score"].astype("float") + 20
    broken.to_csv(in_project / "broken.csv", index=False)
    store = in_project / ("empty-audit.db" if current == "audit:7d" else "no-such-audit.db")
    code, output = run_cli(
        "--reference", reference, "--current", current, "--out", str(in_project / "bad"),
        "--audit-url", f"sqlite:///{store}", "--no-mlflow",
    )  # fmt: skip
    assert code == 2, output
    assert expected in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_a_bad_config_exits_2_naming_the_field(in_project: Path) -> None:
    reference = write_cohort(in_project, "pirkanmaa-ref", "pirkanmaa", 30_000, seed=31)
    config = in_project / "monitor-bad.yaml"
    config.write_text("limits:\n  feature_drift:\n    feature_threshold: 7\n")
    code, output = run_cli(
        "--reference", str(reference), "--current", str(reference), "--out",
        str(in_project / "bad-config"), "--config", str(config), "--no-mlflow",
    )  # fmt: skip
    assert code == 2
    assert "limits.feature_drift.feature_threshold" in output


def test_the_shipped_monitoring_config_states_the_defaults() -> None:
    shipped = Path(__file__).parents[2] / "experiments" / "monitoring" / "default.yaml"
    assert load_monitor_config(shipped) == MonitorConfig()
