"""Typed configuration shared by training (the promotion gate) and monitoring: the fairness limits,
and the one way a YAML file becomes a frozen pydantic model."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Frozen(BaseModel):
    """Configuration: unknown keys refused, nothing changed after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FairnessLimits(Frozen):
    """Largest allowed difference between groups (max minus min over groups of one attribute)."""

    max_true_positive_rate_difference: float = Field(0.20, ge=0, le=1)
    max_false_positive_rate_difference: float = Field(0.10, ge=0, le=1)
    min_group_size: int = Field(200, ge=1)
    #: a true-positive rate is compared only where at least this many clients needed support
    min_group_positives: int = Field(30, ge=1)


M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the field."""


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """``model`` validated from the YAML file at ``path``; ConfigError names the file and field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc
