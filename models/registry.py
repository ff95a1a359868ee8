"""The registry: where MLflow keeps runs and models, the registered name and aliases, and the one
function that loads a registered model.

SQLite and local artefacts by default, any tracking server through ``MLFLOW_TRACKING_URI``; set by the
job that needs it, never on import.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from models.packaged import KykytutkaModel

MODEL_NAME = "kykytutka"
CHAMPION = "champion"
CHALLENGER = "challenger"
DEFAULT_DATABASE = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"

log = logging.getLogger("kykytutka.models")


class ModelNotAvailable(RuntimeError):
    """No model can be loaded from this URI (not registered, or the registry cannot be reached)."""


class IncompatibleModel(ModelNotAvailable):
    """A model that this version of kykytutka cannot use; the message says what to do."""


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


def parse_alias(model_uri: str) -> tuple[str, str] | None:
    """``models:/name@alias`` as (name, alias); None for any other URI."""
    if model_uri.startswith("models:/") and "@" in model_uri:
        name, alias = model_uri.removeprefix("models:/").split("@", 1)
        return name, alias
    return None


def resolve_version(model_uri: str) -> str | None:
    """The registry version behind an alias URI now, or None if the registry cannot say."""
    parsed = parse_alias(model_uri)
    if parsed is None:
        return None
    try:
        version = MlflowClient().get_model_version_by_alias(*parsed)
    except (MlflowException, OSError) as exc:
        log.warning(json.dumps({"event": "registry_unreachable", "error": str(exc)[:200]}))
        return None
    return str(version.version)


def load_model(model_uri: str) -> KykytutkaModel:
    """The KykytutkaModel behind ``model_uri`` (``models:/kykytutka@champion``, ``models:/name/3``,
    ``runs:/...`` or a local folder): the one way every job loads a registered model.

    ModelNotAvailable when nothing can be loaded; IncompatibleModel, with what to do, when the
    model was registered by a version of kykytutka whose classes no longer exist.
    """
    try:
        loaded = mlflow.pyfunc.load_model(model_uri)
        model = loaded.unwrap_python_model()
    except (ModuleNotFoundError, AttributeError, ImportError) as exc:
        raise IncompatibleModel(_incompatible(model_uri, exc)) from None
    except MlflowException as exc:
        if "Unable to retrieve base model object" in str(exc):
            raise IncompatibleModel(
                f"model {model_uri} is not a kykytutka model (another flavour); register one "
                "with `kykytutka train`"
            ) from None
        raise ModelNotAvailable(f"model {model_uri} cannot be loaded: {_first_line(exc)}") from None
    except Exception as exc:  # a damaged copy: unreadable MLmodel, truncated pickle, ...
        raise ModelNotAvailable(
            f"model {model_uri} cannot be loaded ({type(exc).__name__}: {_first_line(exc)}); "
            "it may be damaged: load it again from the registry or re-register it"
        ) from None
    if not isinstance(model, KykytutkaModel):
        raise IncompatibleModel(
            f"model {model_uri} is not a kykytutka model ({type(model).__name__}); register one "
            "with `kykytutka train`"
        )
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _incompatible(model_uri: str, exc: BaseException) -> str:
    return (
        f"model {model_uri} was registered by an older version of kykytutka and cannot be loaded "
        f"by this one ({type(exc).__name__}: {str(exc)[:120]}). Re-train and register it with this "
        "version (`kykytutka train --config experiments/default.yaml`, then `kykytutka promote`), "
        "or point the service at a model registered by this version"
    )
