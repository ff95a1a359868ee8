"""The Evidently drift report that the feature and prediction drift checks share, and what every
Evidently report here needs: uniform samples, the frame and the data definition.

Every column is tested with an effect size, whatever the sample size: normed Wasserstein distance
for numbers, Jensen-Shannon distance for categories (Evidently's defaults above 1,000 rows; below
that it would switch to p-value tests, which flag ever smaller differences as samples grow and
would make the verdict depend on how busy the centre was).

The report runs once per monitoring run, for whichever of the two checks asks first (the context's
cache), and is written as ``drift.html`` for people and ``drift.json`` for machines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.contract import FIELDS_BY_NAME, MODEL_FEATURES, TARGET
from monitoring.checks.base import CheckContext
from monitoring.config import MonitorConfig, SamplingConfig
from monitoring.sources import ALERT, PROBABILITY

NUMERIC_KINDS = ("integer", "number")
NUMERICAL = tuple(f for f in MODEL_FEATURES if FIELDS_BY_NAME[f].kind in NUMERIC_KINDS)
CATEGORICAL = tuple(f for f in MODEL_FEATURES if f not in NUMERICAL)
MISSING = "(missing)"
MISSING_SHARE = "missing share"
DRIFT_FILES = ("drift.html", "drift.json")
DRIFT_LINKS = {"drift.html": "data and prediction drift (Evidently)"}


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    method: str
    distance: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.distance >= self.threshold


@dataclass(frozen=True)
class DriftReport:
    #: by column: each model feature with values on both sides, the alert probability, the alert
    drifts: dict[str, FeatureDrift]
    rows_compared: tuple[int, int]  # after sampling: reference, current


def quiet_evidently() -> None:
    """Evidently must never phone home from here; called before it is imported."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")


def sample(frame: pd.DataFrame, sampling: SamplingConfig) -> pd.DataFrame:
    """A uniform random sample of at most ``max_rows`` rows (all rows if fewer)."""
    if len(frame) <= sampling.max_rows:
        return frame
    return frame.sample(n=sampling.max_rows, random_state=sampling.seed)


def evidently_frame(frame: pd.DataFrame, labelled: bool) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for name in NUMERICAL:
        columns[name] = pd.to_numeric(frame[name]).to_numpy(dtype=float, na_value=np.nan)
    for name in CATEGORICAL:
        columns[name] = frame[name].astype("string").fillna(MISSING).to_numpy(dtype=object)
    columns[PROBABILITY] = frame[PROBABILITY].to_numpy(dtype=float)
    # Labels as 0/1 integers: scikit-learn's metrics sort their labels, and sorting 200,000
    # strings took 15 s of a monitoring run.
    columns[ALERT] = frame[ALERT].to_numpy(dtype=np.int8)
    if labelled:
        columns[TARGET] = frame[TARGET].to_numpy(dtype=np.int8)
    return pd.DataFrame(columns, index=frame.index)


def data_definition(labelled: bool) -> Any:
    quiet_evidently()
    from evidently import BinaryClassification, DataDefinition

    classification = (
        [BinaryClassification(target=TARGET, prediction_labels=ALERT, pos_label=1)]
        if labelled
        else None
    )
    return DataDefinition(
        numerical_columns=[*NUMERICAL, PROBABILITY],
        categorical_columns=[*CATEGORICAL, ALERT] + ([TARGET] if labelled else []),
        classification=classification,
    )


def drift_report(context: CheckContext) -> DriftReport:
    """The shared report: run, and written into the report folder, at the first call of a run."""
    return context.cached("evidently_drift", lambda: _run_drift_report(context))


def _thresholds(config: MonitorConfig) -> tuple[float, float]:
    """Where Evidently's own pages mark a column drifted: at the two drift checks' limits, so
    that drift.html agrees with the verdict (their defaults when one of them does not run)."""
    # Imported here: those modules import this one.
    from monitoring.checks.feature_drift import FeatureDriftLimits
    from monitoring.checks.prediction_drift import PredictionDriftLimits

    features = config.limits.get("feature_drift")
    prediction = config.limits.get("prediction_drift")
    if not isinstance(features, FeatureDriftLimits):
        features = FeatureDriftLimits()
    if not isinstance(prediction, PredictionDriftLimits):
        prediction = PredictionDriftLimits()
    return features.feature_threshold, prediction.prediction_threshold


def _run_drift_report(context: CheckContext) -> DriftReport:
    quiet_evidently()
    from evidently import Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    feature_threshold, prediction_threshold = _thresholds(context.config)
    ref = sample(context.reference.frame, context.config.sampling)
    cur = sample(context.current.frame, context.config.sampling)
    # A number with no value at all on one side has no distribution to compare (a centre that
    # stopped asking the work ability score): the feature drift check judges its missing share.
    comparable = [
        f
        for f in MODEL_FEATURES
        if f not in NUMERICAL or (ref[f].notna().any() and cur[f].notna().any())
    ]
    definition = data_definition(labelled=False)
    report = Report(
        [
            DataDriftPreset(
                columns=comparable,
                num_method="wasserstein",
                cat_method="jensenshannon",
                threshold=feature_threshold,
            ),
            ValueDrift(column=PROBABILITY, method="wasserstein", threshold=prediction_threshold),
            ValueDrift(column=ALERT, method="jensenshannon", threshold=feature_threshold),
        ],
        include_tests=False,
    )
    snapshot = report.run(
        Dataset.from_pandas(evidently_frame(cur, False), data_definition=definition),
        Dataset.from_pandas(evidently_frame(ref, False), data_definition=definition),
    )
    snapshot.save_html(str(context.out / "drift.html"))
    snapshot.save_json(str(context.out / "drift.json"))
    drifts = {d.feature: d for d in _value_drifts(snapshot.dict())}
    return DriftReport(drifts=drifts, rows_compared=(len(ref), len(cur)))


def _value_drifts(report: dict[str, Any]) -> list[FeatureDrift]:
    found = []
    for metric in report["metrics"]:
        config = metric.get("config", {})
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            found.append(
                FeatureDrift(
                    feature=config["column"],
                    method=str(config.get("method")),
                    distance=float(metric["value"]),
                    threshold=float(config["threshold"]),
                )
            )
    return found
