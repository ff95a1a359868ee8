"""The one model MLflow registers: raw booking records in; alert, segment and support level out.

Every caller scores through one path: validated records are encoded (``features.transformers``),
turned into one feature matrix, and the boosters (alert and support level), their calibrators and
the segment centroids read that matrix. The recommended support level combines the support-level
model with the alert (``models.support.recommend``): an alert never comes with less than
consultation. The API sends validated request bodies (``explain_records``, with SHAP contributions);
``predict`` (``mlflow.pyfunc``, ``mlflow models serve``, batch scoring) reads only the model's inputs
(the contract's *feature* fields: identifiers and protected attributes never reach it, and its
MLflow signature names only these) and validates them against the contract first: record by
record through the API's own pydantic model for small frames (where the frame-wide validation's
fixed cost of about 20 ms would dominate), column-wise above that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from data_contracts.booking import CONTRACT_VERSION
from data_contracts.contract import MODEL_FEATURES
from data_contracts.records import validate_records
from data_contracts.validation import prepare_records
from features.transformers import encode_frame, encode_records, feature_matrix
from models.alert import AlertModel, field_rows
from models.segmentation import SegmentationModel
from models.support import RecommendedSupport, SupportModel, level_names

#: Frames up to this many rows are validated record by record (microseconds a record), larger
#: ones column-wise (a fixed ~20 ms, then ~5 µs a row). Measured in benchmarks/pyfunc_speed.py.
RECORD_VALIDATION_ROWS = 500


class AlertLevel(StrEnum):
    """How strongly the indicators alert: none, raised (the capacity share), high (its top half)."""

    NONE = "none"
    RAISED = "raised"
    HIGH = "high"


ALERT_LEVELS: tuple[str, ...] = tuple(level.value for level in AlertLevel)

#: The columns of an assessment, in order (the model's output signature).
OUTPUT_COLUMNS: tuple[str, ...] = (
    "alert_probability",
    "alert",
    "alert_level",
    "segment_id",
    "segment_name_fi",
    "segment_name_en",
    "support_level",  # the segment's typical level
    "recommended_support_level",  # this client's: models.support.Recommendation
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


@dataclass
class RecordAssessment:
    """One assessed record with everything an explanation needs."""

    probability: float
    raw_score: float
    base_value: float
    #: SHAP contributions summed back to contract fields (log-odds)
    contributions: dict[str, float]
    segment_id: str
    #: the recommended support level, its probabilities and its own contributions
    recommendation: RecommendedSupport


class KykytutkaModel(PythonModel):
    """What MLflow stores and serves."""

    def __init__(
        self,
        alert: AlertModel,
        segmentation: SegmentationModel,
        metadata: ModelMetadata,
        support: SupportModel,
    ) -> None:
        self.alert = alert
        self.segmentation = segmentation
        self.metadata = metadata
        self.support = support

    def load_context(self, context: Any) -> None:
        # A model registered before the support-level model has none: refused on loading (as
        # models.registry.load_model refuses older releases, saying what to do), never a 500 later.
        if not isinstance(getattr(self, "support", None), SupportModel):
            raise AttributeError("the registered model has no support-level model")

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Assess booking records as they arrive (JSON strings or typed columns alike)."""
        frame = pd.DataFrame(model_input)
        if len(frame) <= RECORD_VALIDATION_ROWS:
            encoded = encode_records(validate_records(frame, MODEL_FEATURES))
        else:
            encoded = encode_frame(prepare_records(frame, MODEL_FEATURES))
        return self.assemble(encoded, frame.index)

    def assess(self, records: pd.DataFrame) -> pd.DataFrame:
        """Assess a booking frame already validated against the contract."""
        return self.assemble(encode_frame(records), records.index)

    def assemble(self, encoded: dict[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
        matrix = feature_matrix(encoded)
        probability = self.alert.calibrate(self.alert.raw_scores(matrix))
        alert = self.alerted(probability)
        levels, _ = self.support.recommend(self.support.predict_proba(matrix), alert)
        segment_ids = self.segmentation.assign_matrix(matrix)
        segments = self.segmentation.segments

        def per_segment(attribute: str) -> np.ndarray:
            values = {key: str(getattr(segment, attribute)) for key, segment in segments.items()}
            return np.array([values[s] for s in segment_ids], dtype=object)

        return pd.DataFrame(
            {
                "alert_probability": probability.astype(float),
                "alert": alert,
                "alert_level": self.alert_level(probability),
                "segment_id": segment_ids,
                "segment_name_fi": per_segment("name_fi"),
                "segment_name_en": per_segment("name_en"),
                "support_level": per_segment("support_level"),
                "recommended_support_level": level_names(levels),
            },
            index=index,
            copy=False,
        )

    def explain_records(self, records: list[dict[str, Any]]) -> list[RecordAssessment]:
        """Validated records (the API's request bodies) with SHAP contributions per contract
        field; the raw score equals base value plus contributions. The recommendation carries its
        own contributions (``models.support.SupportModel.assessments``)."""
        matrix = feature_matrix(encode_records(records))
        contributions = self.alert.contributions_matrix(matrix)
        raw = contributions.sum(axis=1)
        probability = self.alert.calibrate(raw)
        recommendations = self.support.assessments(matrix, self.alerted(probability))
        segment_ids = self.segmentation.assign_matrix(matrix)
        by_field = field_rows(contributions)
        return [
            RecordAssessment(
                probability=float(probability[row]),
                raw_score=float(raw[row]),
                base_value=float(contributions[row, -1]),
                contributions=by_field[row],
                segment_id=str(segment_ids[row]),
                recommendation=recommendations[row],
            )
            for row in range(len(records))
        ]

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
