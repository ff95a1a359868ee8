"""The model card behind a card's ``source.url``: the ``model_card.md`` that training logged to the
MLflow run of the registered model version (``training/train.py``), read through the registry.

A version's card never changes, so each is read once per process.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

CARD_ARTIFACT = "model_card.md"


class CardNotFound(LookupError):
    """No such registered version, or its run has no model card: 404."""


class CardUnavailable(RuntimeError):
    """The registry cannot be reached now: 503."""


@lru_cache(maxsize=16)
def model_card(name: str, version: str) -> str:
    """The Markdown model card of registered model ``name`` version ``version``."""
    try:
        registered = MlflowClient().get_model_version(name, version)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise CardNotFound(f"no registered model {name} version {version}") from None
        raise CardUnavailable(f"the model registry did not answer: {exc.error_code}") from None
    except OSError as exc:
        raise CardUnavailable(
            f"the model registry cannot be reached: {type(exc).__name__}"
        ) from None
    if not registered.run_id:
        raise CardNotFound(f"{name} version {version} was not registered from a training run")
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=registered.run_id, artifact_path=CARD_ARTIFACT, dst_path=folder
            )
        except (MlflowException, FileNotFoundError):
            raise CardNotFound(f"the run of {name} version {version} has no model card") from None
        except OSError as exc:
            raise CardUnavailable(
                f"the artefact store cannot be reached: {type(exc).__name__}"
            ) from None
        return Path(path).read_text(encoding="utf-8")
