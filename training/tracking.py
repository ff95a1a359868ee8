"""Where MLflow keeps runs and models: SQLite and local artefacts by default, any tracking server
through ``MLFLOW_TRACKING_URI``. Set by the job that needs it, never on import."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

DEFAULT_DATABASE = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"


def tracking_uri(project_dir: Path | None = None) -> str:
    explicit = os.environ.get("MLFLOW_TRACKING_URI")
    if explicit:
        return explicit
    folder = (project_dir or Path.cwd()).resolve()
    return f"sqlite:///{folder / DEFAULT_DATABASE}"


def use_tracking(project_dir: Path | None = None) -> MlflowClient:
    uri = tracking_uri(project_dir)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(client: MlflowClient, name: str, project_dir: Path | None = None) -> str:
    """The experiment's id; a new one keeps artefacts in the project folder when tracking is local."""
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = None
    if tracking_uri(project_dir).startswith("sqlite:"):
        location = ((project_dir or Path.cwd()).resolve() / DEFAULT_ARTIFACTS).as_uri()
    return str(client.create_experiment(name, artifact_location=location))
