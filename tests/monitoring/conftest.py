"""A trained and promoted champion in a temporary project, and booking files to monitor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kykytutka.cli import app
from models.registry import use_tracking
from synthetic.cohort import generate_cohort
from tests.projects import inside_project
from training.config import TrainConfig
from training.registry import promote
from training.train import train

CONFIG = {
    "name": "monitoring",
    "data": {"rows_per_region": 30_000, "seed": 4},
    "segmentation": {"candidate_counts": [3, 4], "sample_rows": 3_000, "bootstrap_refits": 2},
}


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("monitoring")
    with inside_project(folder):
        result = train(TrainConfig.model_validate(CONFIG), project_dir=folder)
        decision = promote(use_tracking(folder))
        assert decision.promoted, decision.reason
    (folder / "run_id").write_text(result.run_id)
    return folder


@pytest.fixture
def in_project(project: Path) -> Iterator[Path]:
    """Each test runs inside the project: MLflow's store and the champion are found there."""
    with inside_project(project):
        use_tracking(project)
        yield project


def run_cli(*args: str) -> tuple[int, str]:
    """``kykytutka monitor`` with ``args``: its exit code and output."""
    result = CliRunner().invoke(app, ["monitor", *args])
    return result.exit_code, result.output


def write_cohort(folder: Path, name: str, region: str, rows: int, seed: int) -> Path:
    path = folder / f"{name}.parquet"
    if not path.exists():
        generate_cohort(region, rows, seed=seed).to_parquet(path, index=False)
    return path


def women_unemployed_longer(frame: pd.DataFrame, months: int) -> pd.DataFrame:
    """A recording change for women only: their unemployment is counted from the first
    registration instead of the latest, so it reads ``months`` longer. Need is unchanged."""
    changed = frame.copy()
    women = (changed["sex"] == "female") & (changed["months_unemployed"].fillna(0) > 0)
    changed.loc[women, "months_unemployed"] = changed.loc[women, "months_unemployed"] + months
    return changed


class _Alert:
    def predict_proba(self, records: pd.DataFrame) -> np.ndarray:
        return np.linspace(0.0, 1.0, len(records))


class UntrainedModel:
    """Scores without training, for the checks that read the records, not the model's answers."""

    alert = _Alert()

    def alerted(self, probability: np.ndarray) -> np.ndarray:
        return np.asarray(probability) >= 0.5
