"""The proxy audit as a monitoring check: quiet on the synthetic population, a breach when a model
input comes to stand for sex in the assessed bookings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthetic.cohort import generate_cohort
from tests.monitoring.conftest import UntrainedModel, run_cli
from tests.projects import inside_project

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(
        "monitoring.monitor.load_monitored_model", lambda uri: (UntrainedModel(), "7")
    )
    cohort = generate_cohort("pirkanmaa", 20_000, seed=5)
    cohort.to_parquet(tmp_path / "bookings.parquet")
    planted = cohort.copy()
    # A recording practice that turns a model input into a stand-in for sex.
    planted["financial_difficulties"] = planted["sex"].astype(str) == "female"
    planted.to_parquet(tmp_path / "planted.parquet")
    (tmp_path / "monitor.yaml").write_text("checks: [proxy_audit]\n")
    with inside_project(tmp_path):
        yield tmp_path


def _run(folder: Path, current: str) -> tuple[int, str, dict[str, object]]:
    out = folder / f"report-{current}"
    code, output = run_cli(
        "--reference", "bookings.parquet", "--current", f"{current}.parquet", "--out", str(out),
        "--config", str(folder / "monitor.yaml"), "--no-mlflow",
    )  # fmt: skip
    return code, output, json.loads((out / "summary.json").read_text())


def test_the_synthetic_population_has_no_proxy(folder: Path) -> None:
    code, output, summary = _run(folder, "bookings")
    assert code == 0, output
    assert "proxy audit:" in output
    metrics = summary["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["proxy.max_feature_auc.sex"] < 0.56


def test_an_input_that_stands_for_sex_breaches(folder: Path) -> None:
    code, output, _ = _run(folder, "planted")
    assert code == 1, output
    assert "BREACH: proxy: model feature financial_difficulties" in output
    assert "a proxy for sex" in output
    assert (folder / "report-planted" / "proxy_audit.csv").is_file()
