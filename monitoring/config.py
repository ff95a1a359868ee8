"""What the monitoring job checks and where its limits lie: typed, frozen, loadable from YAML."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from models.config import FairnessLimits, load_yaml_model


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriftLimits(_Frozen):
    """Evidently's own drift tests, effect sizes above 1,000 rows: normed Wasserstein distance for
    numbers, Jensen-Shannon distance for categories. Both estimate how far apart the two
    distributions are, not whether a difference exists, so a large sample does not make a
    negligible shift "significant"."""

    #: a feature has drifted when its distance reaches this
    feature_threshold: float = Field(0.1, gt=0, le=1)
    #: a number's share of missing values moving this much is drift too (e.g. 0.05 -> 0.15)
    missing_share_threshold: float = Field(0.1, gt=0, le=1)
    #: breach when at least this many model features have drifted
    max_drifted_features: int = Field(1, ge=1)
    #: breach when the alert probability's distribution has moved this far
    prediction_threshold: float = Field(0.1, gt=0, le=1)
    #: breach when the alert rate moved more than this (absolute, e.g. 0.10 -> 0.13)
    max_alert_rate_change: float = Field(0.03, gt=0, le=1)


class GroupShiftLimits(_Frozen):
    """Alerting that turns against one group, seen before any outcome arrives: how much more one
    group's alert rate moved since the reference than another's (difference in differences)."""

    max_alert_rate_shift_difference: float = Field(0.02, gt=0, le=1)
    min_group_size: int = Field(500, ge=1)


class SamplingConfig(_Frozen):
    """Evidently's drift statistics are computed on uniform random samples of at most this many
    rows of each side (see monitoring/README in the main README); fairness and alert rates always
    use every row."""

    max_rows: int = Field(200_000, ge=1_000)
    seed: int = 0


class MonitorConfig(_Frozen):
    experiment: str = "kykytutka-monitoring"
    drift: DriftLimits = DriftLimits()
    fairness: FairnessLimits = FairnessLimits()
    group_shift: GroupShiftLimits = GroupShiftLimits()
    #: both fairness checks: a difference over its limit breaches only when it is also this many
    #: standard errors from zero, so that a small group's or a short window's noise is not
    #: reported as unfairness
    min_z: float = Field(3.0, ge=0)
    sampling: SamplingConfig = SamplingConfig()


def load_monitor_config(path: str | Path | None) -> MonitorConfig:
    return MonitorConfig() if path is None else load_yaml_model(path, MonitorConfig)
