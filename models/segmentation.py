"""The segmentation model as it assigns: named client profiles with a support level and a path.

Fitting (k-means, the choice of the count, stable ids, names) lives in ``training.segmentation``;
this module holds only what a registered model needs to place a client in a segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from data_contracts.booking import SupportLevel
from features.transformers import FEATURE_NAMES, BookingFeatures, encode_frame, feature_matrix

#: The booking-context features segments are built from (all outputs of BookingFeatures).
# Age and visit counts are left out: they vary smoothly across everyone and only blur the profiles.
SEGMENT_FEATURES: tuple[str, ...] = (
    "out_of_work",
    "months_unemployed",
    "sickness_absence_days_12m",
    "complaint_duration_weeks",
    "work_ability_score",
    "psychosocial_concerns",
)
_LOG_SCALED = {"months_unemployed", "sickness_absence_days_12m", "complaint_duration_weeks"}


def segment_matrix(features: Any, medians: dict[str, float]) -> np.ndarray:
    """The numeric matrix k-means sees: missing values imputed by training medians, long tails
    compressed with log1p so that a few very long absences do not make their own segment."""
    columns = []
    for name in SEGMENT_FEATURES:
        values = np.asarray(features[name], dtype=float)
        values = np.where(np.isnan(values), medians[name], values)
        columns.append(np.log1p(values) if name in _LOG_SCALED else values)
    return np.column_stack(columns)


@dataclass
class Segment:
    id: str
    name_fi: str
    name_en: str
    #: the segment's typical confirmed level (the recommendation itself is per client)
    support_level: SupportLevel
    #: step codes of ``models.services.SERVICE_STEPS`` (texts, and the consent filter, there)
    service_path: list[str]
    share: float
    need_rate: float
    profile: dict[str, float] = field(default_factory=dict)
    name_sv: str = ""

    def name(self, language: str) -> str:
        return {"fi": self.name_fi, "sv": self.name_sv, "en": self.name_en}[language]


@dataclass
class SegmentationModel:
    features: BookingFeatures
    medians: dict[str, float]
    scaler: StandardScaler
    kmeans: KMeans
    ids: list[str]  # ids[cluster index] = stable segment id
    segments: dict[str, Segment]
    selection: pd.DataFrame  # k, silhouette, stability (mean ARI of bootstrap refits)

    @property
    def centroids(self) -> pd.DataFrame:
        """Centroids in feature units (log1p where compressed), indexed by segment id. Later models
        align to these after standardising them with their own scaler."""
        centres = self.scaler.inverse_transform(self.kmeans.cluster_centers_)
        return pd.DataFrame(centres, index=self.ids, columns=SEGMENT_FEATURES)

    def assign_features(self, features: Any) -> np.ndarray:
        """Segment ids from a BookingFeatures frame or a mapping of its columns to arrays."""
        # Nearest centroid in standardised space: what KMeans.predict computes, without its
        # per-call input checks (1.2 ms for one row; equality is tested).
        scaled = (segment_matrix(features, self.medians) - self.scaler.mean_) / self.scaler.scale_
        centres = self.kmeans.cluster_centers_
        nearest = ((scaled[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        ids: np.ndarray = np.asarray(self.ids, dtype=object)[nearest]
        return ids

    def assign_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Segment ids from a feature matrix (``features.transformers.feature_matrix``)."""
        return self.assign_features(
            {name: matrix[:, FEATURE_NAMES.index(name)] for name in SEGMENT_FEATURES}
        )

    def assign(self, records: pd.DataFrame) -> np.ndarray:
        """The segment id of each booking record."""
        return self.assign_matrix(feature_matrix(encode_frame(records)))

    def profile_table(self) -> pd.DataFrame:
        rows = []
        for segment in self.segments.values():
            rows.append(
                {
                    "segment_id": segment.id,
                    "name_fi": segment.name_fi,
                    "name_sv": segment.name_sv,
                    "name_en": segment.name_en,
                    "share": segment.share,
                    "need_rate": segment.need_rate,
                    "support_level": segment.support_level.value,
                    "service_path": "; ".join(segment.service_path),
                    **segment.profile,
                }
            )
        return pd.DataFrame(rows)
