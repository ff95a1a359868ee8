"""Loading the champion: from the registry, with a local copy for when the tracking server is down,
and swapped in place when the alias moves (requests in flight keep the model they started with)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from kykytutka.model import MODEL_NAME, KykytutkaModel

log = logging.getLogger("kykytutka.serving")


@dataclass(frozen=True)
class LoadedModel:
    model: KykytutkaModel
    name: str
    version: str
    source: str  # "registry" or "local copy"


class ModelNotAvailable(RuntimeError):
    pass


def _alias(model_uri: str) -> tuple[str, str] | None:
    # models:/name@alias
    if model_uri.startswith("models:/") and "@" in model_uri:
        name, alias = model_uri.removeprefix("models:/").split("@", 1)
        return name, alias
    return None


def resolve_version(model_uri: str) -> str | None:
    """The registry version behind ``model_uri`` now, or None if the registry cannot say."""
    parsed = _alias(model_uri)
    if parsed is None:
        return None
    try:
        version = MlflowClient().get_model_version_by_alias(*parsed)
    except (MlflowException, OSError) as exc:
        log.warning(json.dumps({"event": "registry_unreachable", "error": str(exc)[:200]}))
        return None
    return str(version.version)


def load_model(model_uri: str, cache_dir: Path) -> LoadedModel:
    """The model behind ``model_uri``: downloaded into the cache, or the newest cached copy."""
    parsed = _alias(model_uri)
    name = parsed[0] if parsed else MODEL_NAME
    version = resolve_version(model_uri)
    if version is not None:
        target = cache_dir / f"{name}-v{version}"
        if not (target / "MLmodel").is_file():
            # Each worker process downloads into its own folder; the first complete copy to be
            # renamed into place wins and the others are dropped (workers start together).
            partial = cache_dir / f".{name}-v{version}.partial-{os.getpid()}"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=str(partial)
            )
            try:
                partial.rename(target)
            except OSError:  # another worker got there first
                shutil.rmtree(partial, ignore_errors=True)
            if not (target / "MLmodel").is_file():
                raise ModelNotAvailable(f"the local copy in {target} is incomplete")
        model = mlflow.pyfunc.load_model(str(target)).unwrap_python_model()
        pointer = cache_dir / f".current-{os.getpid()}.json"
        pointer.write_text(json.dumps({"name": name, "version": version}))
        pointer.replace(cache_dir / "current.json")  # atomic, whichever worker writes last
        return LoadedModel(model, name, version, "registry")
    current = cache_dir / "current.json"
    if current.is_file():
        known = json.loads(current.read_text())
        target = cache_dir / f"{known['name']}-v{known['version']}"
        model = mlflow.pyfunc.load_model(str(target)).unwrap_python_model()
        log.warning(json.dumps({"event": "model_from_local_copy", "version": known["version"]}))
        return LoadedModel(model, known["name"], str(known["version"]), "local copy")
    raise ModelNotAvailable(
        f"cannot load {model_uri}: the registry does not answer and there is no local copy in "
        f"{cache_dir}; train and promote a model first (`make demo`)"
    )
