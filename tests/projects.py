"""Working inside a temporary project folder: MLflow's default SQLite store and artefacts land there."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def inside_project(folder: Path) -> Iterator[Path]:
    """cd into ``folder`` with no MLFLOW_TRACKING_URI set; both restored afterwards."""
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(previous)
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
