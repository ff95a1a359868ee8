"""Training runs as typed, frozen configuration loaded from YAML in ``experiments/``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from models.config import ConfigError, FairnessLimits, ProxyLimits, load_yaml_model
from models.config import Frozen as _Frozen

__all__ = ["AlertModelConfig", "ConfigError", "DataConfig", "TrainConfig", "load_config"]


class DataConfig(_Frozen):
    """Where training data comes from: a file, or synthetic cohorts generated on the fly."""

    file: Path | None = None
    regions: tuple[Literal["pirkanmaa", "etela-pohjanmaa"], ...] = ("pirkanmaa", "etela-pohjanmaa")
    rows_per_region: int = Field(100_000, ge=1_000)
    seed: int = 0
    calibration_share: float = Field(0.2, gt=0, lt=0.5)
    test_share: float = Field(0.2, gt=0, lt=0.5)


class BoosterConfig(_Frozen):
    """A LightGBM booster's settings, as the alert and the support-level models share them."""

    n_estimators: int = Field(200, ge=10, le=5_000)
    learning_rate: float = Field(0.08, gt=0, le=1)
    num_leaves: int = Field(7, ge=2, le=1_024)
    min_child_samples: int = Field(500, ge=1)
    reg_lambda: float = Field(1.0, ge=0)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)


class AlertModelConfig(BoosterConfig):
    monotone: bool = True
    # Platt by default: isotonic plateaus tie the top of the ranking and cost PR AUC (measured).
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"
    logistic_c: float = Field(1.0, gt=0)


class SegmentationConfig(_Frozen):
    candidate_counts: tuple[int, ...] = (3, 4, 5, 6, 7, 8)
    sample_rows: int = Field(10_000, ge=1_000)
    bootstrap_refits: int = Field(3, ge=2, le=50)


class TrainConfig(_Frozen):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    #: the MLflow experiment the runs go to
    experiment: str = Field("kykytutka", pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$")
    data: DataConfig = DataConfig()
    alert: AlertModelConfig = AlertModelConfig()
    #: Share of bookings a work-ability team can see: the alert threshold is set to flag this share.
    alert_capacity: float = Field(0.10, gt=0, lt=1)
    segmentation: SegmentationConfig = SegmentationConfig()
    fairness: FairnessLimits = FairnessLimits()
    #: how well model inputs may tell a protected group from the rest (models/proxy.py)
    proxy: ProxyLimits = ProxyLimits()
    promotion_metric: Literal["pr_auc", "roc_auc", "recall_at_10pct", "brier"] = "pr_auc"
    register_model: bool = True
    #: A small grid: each combination is trained as its own run; the best on validation is registered.
    search: dict[str, tuple[float, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _whole_numbers_where_needed(self) -> TrainConfig:
        for name, values in self.search.items():
            if not values:
                raise ValueError(f"search.{name}: give at least one value")
            if any(not math.isfinite(v) for v in values):
                raise ValueError(f"search.{name}: every value must be a finite number")
        for name in ("n_estimators", "num_leaves", "min_child_samples"):
            values = self.search.get(name, ())
            if any(float(v) != int(v) for v in values):
                raise ValueError(f"search.{name} takes whole numbers, got {list(values)}")
        return self

    @model_validator(mode="after")
    def _search_values_within_the_alert_limits(self) -> TrainConfig:
        """Each searched value must be one the alert model takes (checked now, not mid-run)."""
        fields = AlertModelConfig.model_fields
        for name, values in self.search.items():
            if name not in fields:
                continue  # reported by _search_names_alert_parameters
            for value in values:
                try:
                    AlertModelConfig.model_validate({**self.alert.model_dump(), name: value})
                except ValidationError as exc:
                    problem = exc.errors()[0]["msg"]
                    raise ValueError(f"search.{name}: {value!r}: {problem}") from None
        return self

    @model_validator(mode="after")
    def _search_names_alert_parameters(self) -> TrainConfig:
        unknown = set(self.search) - set(AlertModelConfig.model_fields)
        if unknown:
            raise ValueError(f"search names unknown alert parameters: {sorted(unknown)}")
        return self


def load_config(path: str | Path) -> TrainConfig:
    return load_yaml_model(path, TrainConfig)
