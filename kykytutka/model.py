"""The one model MLflow registers: raw booking records in; alert, segment and support level out.

The feature pipeline is inside (``features.BookingFeatures`` within both parts), so serving, batch
scoring and ``mlflow models serve`` never re-implement a feature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from data_contracts.booking import CONTRACT_VERSION
from data_contracts.validation import prepare_records
from training.alert import AlertModel
from training.segmentation import SegmentationModel

MODEL_NAME = "kykytutka"
CHAMPION = "champion"
CHALLENGER = "challenger"
ALERT_LEVELS = ("none", "raised", "high")

#: The columns of an assessment, in order (the model's output signature).
OUTPUT_COLUMNS: tuple[str, ...] = (
    "alert_probability",
    "alert",
    "alert_level",
    "segment_id",
    "segment_name_fi",
    "segment_name_en",
    "support_level",
)


@dataclass
class ModelMetadata:
    contract_version: str = CONTRACT_VERSION
    #: probability at which the configured capacity share of bookings is alerted ("raised")
    alert_threshold: float = 0.5
    #: probability of the top half of that share ("high")
    high_alert_threshold: float = 0.5
    alert_capacity: float = 0.10
    training_run: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class KykytutkaModel(PythonModel):
    """What MLflow stores and serves."""

    def __init__(
        self, alert: AlertModel, segmentation: SegmentationModel, metadata: ModelMetadata
    ) -> None:
        self.alert = alert
        self.segmentation = segmentation
        self.metadata = metadata

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Assess booking records as they arrive (JSON strings or typed columns alike)."""
        return self.assess(prepare_records(pd.DataFrame(model_input)))

    def assess(self, records: pd.DataFrame) -> pd.DataFrame:
        """Assess records already validated against the contract."""
        probability = self.alert.predict_proba(records)
        segment_ids = self.segmentation.assign(records)
        return self.assemble(probability, segment_ids, records.index)

    def alerted(self, probability: np.ndarray) -> np.ndarray:
        """The alert rule, the one place it is written: the probability reaches the threshold."""
        alert: np.ndarray = np.asarray(probability) >= self.metadata.alert_threshold
        return alert

    def alert_level(self, probability: np.ndarray) -> np.ndarray:
        levels = np.digitize(
            probability, [self.metadata.alert_threshold, self.metadata.high_alert_threshold]
        )
        named: np.ndarray = np.asarray(ALERT_LEVELS, dtype=object)[levels]
        return named

    def assemble(
        self, probability: np.ndarray, segment_ids: np.ndarray, index: pd.Index
    ) -> pd.DataFrame:
        segments = self.segmentation.segments
        return pd.DataFrame(
            {
                "alert_probability": probability.astype(float),
                "alert": self.alerted(probability),
                "alert_level": self.alert_level(probability),
                "segment_id": segment_ids,
                "segment_name_fi": [segments[s].name_fi for s in segment_ids],
                "segment_name_en": [segments[s].name_en for s in segment_ids],
                "support_level": [segments[s].support_level for s in segment_ids],
            },
            index=index,
        )


@dataclass
class RecordAssessment:
    """One assessed record with everything an explanation needs."""

    probability: float
    raw_score: float
    base_value: float
    #: SHAP contributions summed back to contract fields (log-odds)
    contributions: dict[str, float]
    segment_id: str


def assess_records(model: KykytutkaModel, records: list[dict[str, Any]]) -> list[RecordAssessment]:
    """The fast path for validated records (API request bodies): no pandas, same features and
    models as ``KykytutkaModel.assess``; the raw score equals base value plus contributions."""
    from features.transformers import source_fields

    features = model.alert.features.transform_records(records)
    contributions = model.alert.contributions_matrix(features)
    raw = contributions.sum(axis=1)
    probability = model.alert.calibrate(raw)
    names = list(model.alert.features.get_feature_names_out())
    columns = {name: features[:, position] for position, name in enumerate(names)}
    segment_ids = model.segmentation.assign_features(columns)
    assessed = []
    for row in range(len(records)):
        by_field: dict[str, float] = {}
        for position, name in enumerate(model.alert.feature_names):
            sources = source_fields(name)
            for source in sources:
                by_field[source] = by_field.get(source, 0.0) + float(
                    contributions[row, position] / len(sources)
                )
        assessed.append(
            RecordAssessment(
                probability=float(probability[row]),
                raw_score=float(raw[row]),
                base_value=float(contributions[row, -1]),
                contributions=by_field,
                segment_id=str(segment_ids[row]),
            )
        )
    return assessed
