"""What the monitoring job checks and where its limits lie: typed, frozen, loadable from YAML.

``checks`` lists the checks that run, in order; ``limits.<check>`` holds each one's limits, typed
by the check itself (its ``limits_type``, in its own module under ``monitoring/checks/``), so a
new check brings its limits with it and this file does not change.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, SerializeAsAny, ValidationInfo, create_model, field_validator

from models.config import Frozen, load_yaml_model

if TYPE_CHECKING:
    from monitoring.checks.base import Check


def registered_checks() -> dict[str, Check[Any]]:
    # Imported here, not at the top: the checks' modules import this one for their context.
    from monitoring.checks import CHECKS

    return CHECKS


class SamplingConfig(Frozen):
    """Evidently's drift statistics are computed on uniform random samples of at most this many
    rows of each side (see monitoring/README in the main README); fairness and alert rates always
    use every row."""

    max_rows: int = Field(200_000, ge=1_000)
    seed: int = 0


def _every_registered_check() -> tuple[str, ...]:
    return tuple(registered_checks())


class MonitorConfig(Frozen):
    """One monitoring job: which checks run, in order, each with its limits."""

    experiment: str = "kykytutka-monitoring"
    #: the checks that run, in this order (by default every registered check)
    checks: tuple[str, ...] = Field(default_factory=_every_registered_check, min_length=1)
    #: each check's limits by its name; a listed check left out here runs with its defaults
    limits: dict[str, SerializeAsAny[BaseModel]] = Field(
        default_factory=dict, validate_default=True
    )
    sampling: SamplingConfig = SamplingConfig()

    @field_validator("checks")
    @classmethod
    def _registered(cls, checks: tuple[str, ...]) -> tuple[str, ...]:
        known = registered_checks()
        for name in checks:
            if name not in known:
                raise ValueError(f"unknown check {name!r} (known: {', '.join(known)})")
            if checks.count(name) > 1:
                raise ValueError(f"check {name!r} is listed twice")
        return checks

    @field_validator("limits", mode="before")
    @classmethod
    def _typed_by_each_check(cls, given: Any, info: ValidationInfo) -> dict[str, BaseModel]:
        """Each section validated by its check's own model, so that an error names the field
        (``limits.feature_drift.feature_threshold``) and an unknown check or key is refused."""
        known = registered_checks()
        sections = create_model(  # type: ignore[call-overload]
            "Limits",
            __base__=Frozen,
            **{name: (check.limits_type | None, None) for name, check in known.items()},
        )
        parsed = sections.model_validate({} if given is None else given)
        listed = info.data.get("checks", ())
        return {
            name: known[name].limits_type()
            if getattr(parsed, name) is None
            else getattr(parsed, name)
            for name in dict.fromkeys([*listed, *parsed.model_fields_set])
        }


def load_monitor_config(path: str | Path | None) -> MonitorConfig:
    return MonitorConfig() if path is None else load_yaml_model(path, MonitorConfig)
