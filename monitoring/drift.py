"""Data drift, prediction drift and classification quality as Evidently reports.

Every feature is tested with an effect size, whatever the sample size: normed Wasserstein distance
for numbers, Jensen-Shannon distance for categories (Evidently's defaults above 1,000 rows; below
that it would switch to p-value tests, which flag ever smaller differences as samples grow and
would make the verdict depend on how busy the centre was).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.contract import FIELDS_BY_NAME, MODEL_FEATURES, TARGET
from monitoring.config import DriftLimits, SamplingConfig
from monitoring.sources import ALERT, PROBABILITY, Scored

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently must never phone home from here
os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")

NUMERIC_KINDS = ("integer", "number")
NUMERICAL = tuple(f for f in MODEL_FEATURES if FIELDS_BY_NAME[f].kind in NUMERIC_KINDS)
CATEGORICAL = tuple(f for f in MODEL_FEATURES if f not in NUMERICAL)
MISSING = "(missing)"
MISSING_SHARE = "missing share"


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    method: str
    distance: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.distance >= self.threshold


@dataclass
class DriftResult:
    features: list[FeatureDrift]
    #: change of the share of missing values, per number (categories carry "(missing)" as a value)
    missing: list[FeatureDrift]
    prediction: FeatureDrift  # the alert probability's distribution
    alert_rate_reference: float
    alert_rate_current: float
    #: Evidently's classification metrics on the current outcomes, when there are any
    quality: dict[str, float]
    rows_compared: tuple[int, int]  # after sampling: reference, current

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]


def sample(frame: pd.DataFrame, sampling: SamplingConfig) -> pd.DataFrame:
    """A uniform random sample of at most ``max_rows`` rows (all rows if fewer)."""
    if len(frame) <= sampling.max_rows:
        return frame
    return frame.sample(n=sampling.max_rows, random_state=sampling.seed)


def missing_shares(
    reference: pd.DataFrame, current: pd.DataFrame, limits: DriftLimits
) -> list[FeatureDrift]:
    """How much the share of missing values of each numeric feature moved (all rows)."""
    return [
        FeatureDrift(
            feature=name,
            method=MISSING_SHARE,
            distance=abs(float(current[name].isna().mean()) - float(reference[name].isna().mean())),
            threshold=limits.missing_share_threshold,
        )
        for name in NUMERICAL
    ]


def _evidently_frame(frame: pd.DataFrame, labelled: bool) -> pd.DataFrame:
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


def _definition(labelled: bool) -> Any:
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


def run_drift(
    reference: Scored,
    current: Scored,
    limits: DriftLimits,
    sampling: SamplingConfig,
    out: Path,
) -> DriftResult:
    """Write ``drift.html``/``drift.json`` (and ``quality.html``/``quality.json`` when current
    outcomes exist) into ``out``; return the figures the verdict needs."""
    from evidently import Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    ref = sample(reference.frame, sampling)
    cur = sample(current.frame, sampling)
    missing = missing_shares(reference.frame, current.frame, limits)
    # A number with no value at all on one side has no distribution to compare (a centre that
    # stopped asking the work ability score): its missing share is its drift.
    comparable = [
        f
        for f in MODEL_FEATURES
        if f not in NUMERICAL or (ref[f].notna().any() and cur[f].notna().any())
    ]
    definition = _definition(labelled=False)
    report = Report(
        [
            DataDriftPreset(
                columns=comparable,
                num_method="wasserstein",
                cat_method="jensenshannon",
                threshold=limits.feature_threshold,
            ),
            ValueDrift(
                column=PROBABILITY, method="wasserstein", threshold=limits.prediction_threshold
            ),
            ValueDrift(column=ALERT, method="jensenshannon", threshold=limits.feature_threshold),
        ],
        include_tests=False,
    )
    snapshot = report.run(
        Dataset.from_pandas(_evidently_frame(cur, False), data_definition=definition),
        Dataset.from_pandas(_evidently_frame(ref, False), data_definition=definition),
    )
    snapshot.save_html(str(out / "drift.html"))
    snapshot.save_json(str(out / "drift.json"))
    drifts = {d.feature: d for d in _value_drifts(snapshot.dict())}
    drifts |= {d.feature: d for d in missing if d.feature not in comparable}
    quality = _quality(reference, current, sampling, out) if current.has_outcomes else {}
    return DriftResult(
        features=[drifts[f] for f in MODEL_FEATURES],
        missing=[d for d in missing if d.feature in comparable],
        prediction=drifts[PROBABILITY],
        alert_rate_reference=float(reference.frame[ALERT].mean()),
        alert_rate_current=float(current.frame[ALERT].mean()),
        quality=quality,
        rows_compared=(len(ref), len(cur)),
    )


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


def _quality(
    reference: Scored, current: Scored, sampling: SamplingConfig, out: Path
) -> dict[str, float]:
    """Evidently's classification report on the outcomes that have come back; compared with the
    reference's outcomes when the reference has them."""
    from evidently import Dataset, Report
    from evidently.presets import ClassificationPreset

    definition = _definition(labelled=True)
    cur = Dataset.from_pandas(
        _evidently_frame(sample(current.labelled(), sampling), True), data_definition=definition
    )
    ref = None
    if reference.has_outcomes:
        ref = Dataset.from_pandas(
            _evidently_frame(sample(reference.labelled(), sampling), True),
            data_definition=definition,
        )
    snapshot = Report([ClassificationPreset()], include_tests=False).run(cur, ref)
    snapshot.save_html(str(out / "quality.html"))
    snapshot.save_json(str(out / "quality.json"))
    figures = {}
    for metric in snapshot.dict()["metrics"]:
        kind = metric.get("config", {}).get("type", "").rsplit(":", 1)[-1]
        if kind in ("Accuracy", "Precision", "Recall", "F1Score", "FPR", "FNR"):
            value = metric["value"]
            value = value.get("current") if isinstance(value, dict) else value
            if value is not None:  # undefined when the outcomes hold one class only
                figures[kind.lower()] = float(value)
    return figures
