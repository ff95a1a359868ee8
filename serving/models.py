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

from models.packaged import KykytutkaModel
from models.registry import MODEL_NAME, ModelNotAvailable, load_model, parse_alias, resolve_version

__all__ = ["LoadedModel", "ModelNotAvailable", "load_champion", "resolve_version"]

log = logging.getLogger("kykytutka.serving")


@dataclass(frozen=True)
class LoadedModel:
    model: KykytutkaModel
    name: str
    version: str
    source: str  # "registry" or "local copy"


def load_champion(model_uri: str, cache_dir: Path) -> LoadedModel:
    """The model behind ``model_uri``: downloaded into the cache, or the newest cached copy."""
    parsed = parse_alias(model_uri)
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
        model = load_model(str(target))
        pointer = cache_dir / f".current-{os.getpid()}.json"
        pointer.write_text(json.dumps({"name": name, "version": version}))
        pointer.replace(cache_dir / "current.json")  # atomic, whichever worker writes last
        return LoadedModel(model, name, version, "registry")
    current = cache_dir / "current.json"
    if current.is_file():
        known = json.loads(current.read_text())
        target = cache_dir / f"{known['name']}-v{known['version']}"
        model = load_model(str(target))
        log.warning(json.dumps({"event": "model_from_local_copy", "version": known["version"]}))
        return LoadedModel(model, known["name"], str(known["version"]), "local copy")
    raise ModelNotAvailable(
        f"cannot load {model_uri}: the registry does not answer and there is no local copy in "
        f"{cache_dir}; train and promote a model first (`make demo`)"
    )
