"""A trained and promoted champion in a benchmark's temporary project folder."""

from __future__ import annotations

import os
from pathlib import Path

from models.registry import use_tracking
from tests.projects import inside_project
from training.config import TrainConfig
from training.registry import promote
from training.train import train


def train_champion(project: Path, rows_per_region: int = 50_000) -> None:
    """Default hyperparameters; MLflow's SQLite store and artefacts land in ``project``."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    with inside_project(project):
        config = TrainConfig.model_validate(
            {"name": "bench", "data": {"rows_per_region": rows_per_region}}
        )
        train(config, project_dir=project)
        promote(use_tracking(project))
