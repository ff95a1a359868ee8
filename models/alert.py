"""The indicator-alert classifier as it scores: the features, a LightGBM booster and a calibrator.

Fitting lives in ``training.alert``; this module holds only what a registered model needs to score,
so that loading a model never imports the training code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.spec import FEATURES, sources
from features.transformers import FEATURE_NAMES, BookingFeatures, encode_frame, feature_matrix

#: Rows below which LightGBM predicts on one thread: OpenMP start-up costs more than a few rows
#: (a single row's contributions: 3.0 ms with threads, 0.6 ms without).
SMALL_BATCH = 256

#: The booster's inputs: every feature the specification does not keep for people only.
BOOSTER_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.for_booster)
_BOOSTER_COLUMNS = np.array([FEATURE_NAMES.index(name) for name in BOOSTER_FEATURES])


def booster_frame(features: pd.DataFrame) -> pd.DataFrame:
    """A BookingFeatures frame narrowed to the booster's inputs (what it is trained on)."""
    return features[list(BOOSTER_FEATURES)]


@dataclass
class AlertModel:
    """LightGBM on the booking features, calibrated; scores raw booking records."""

    features: BookingFeatures
    booster: lgb.Booster
    calibrator: Any  # IsotonicRegression or LogisticRegression on the raw score
    calibration: str
    threshold: float = 0.5  # set from the capacity on held-out data
    feature_names: list[str] = field(default_factory=lambda: list(BOOSTER_FEATURES))

    # -- the one scoring path: a float feature matrix (features.transformers.feature_matrix) ------

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        """The booster's log-odds for a feature matrix."""
        inputs = matrix[:, _BOOSTER_COLUMNS]
        return np.asarray(
            self.booster.predict(inputs, raw_score=True, num_threads=_threads(len(inputs)))
        )

    def contributions_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """SHAP contributions (log-odds) per booster input, base value last. LightGBM's
        ``pred_contrib`` equals ``shap.TreeExplainer(booster).shap_values`` exactly."""
        inputs = matrix[:, _BOOSTER_COLUMNS]
        return np.asarray(
            self.booster.predict(inputs, pred_contrib=True, num_threads=_threads(len(inputs)))
        )

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        # The fitted calibrators' own formulas, without scikit-learn's per-call input checks
        # (0.5 ms a call; equality with predict/predict_proba is tested).
        raw = np.asarray(raw, dtype=np.float64)
        if self.calibration == "isotonic":
            probability = np.interp(
                raw, self.calibrator.X_thresholds_, self.calibrator.y_thresholds_
            )
        else:
            slope = float(self.calibrator.coef_[0, 0])
            intercept = float(self.calibrator.intercept_[0])
            probability = 1.0 / (1.0 + np.exp(-(slope * raw + intercept)))
        clipped: np.ndarray = np.clip(probability, 0.0, 1.0)
        return clipped

    # -- conveniences on validated booking frames ------------------------------------------------

    def raw_score(self, records: pd.DataFrame) -> np.ndarray:
        return self.raw_scores(feature_matrix(encode_frame(records)))

    def predict_proba(self, records: pd.DataFrame) -> np.ndarray:
        return self.calibrate(self.raw_score(records))

    def contributions(self, records: pd.DataFrame) -> pd.DataFrame:
        """SHAP values in log-odds per contract field (columns), plus ``base_value``."""
        raw = self.contributions_matrix(feature_matrix(encode_frame(records)))
        out = pd.DataFrame(by_contract_field(raw), index=records.index)
        out["base_value"] = raw[:, -1]
        return out


def _field_shares() -> tuple[tuple[str, ...], np.ndarray]:
    """The contract fields the booster's inputs come from (in order of first use), and the
    (inputs x fields) matrix that sums each input's contribution back to them: a feature with
    several source fields shares its contribution equally among them."""
    fields: list[str] = []
    for name in BOOSTER_FEATURES:
        fields += [source for source in sources(name) if source not in fields]
    shares = np.zeros((len(BOOSTER_FEATURES), len(fields)))
    for position, name in enumerate(BOOSTER_FEATURES):
        for source in sources(name):
            shares[position, fields.index(source)] += 1 / len(sources(name))
    return tuple(fields), shares


CONTRACT_FIELDS, _SHARES = _field_shares()


def _summed(contributions: np.ndarray) -> np.ndarray:
    """Contributions per booster input (base value last, or not) summed back to the contract
    fields they come from (``_field_shares``): one column per field of ``CONTRACT_FIELDS``."""
    summed: np.ndarray = contributions[:, : len(BOOSTER_FEATURES)] @ _SHARES
    return summed


def by_contract_field(contributions: np.ndarray) -> dict[str, np.ndarray]:
    """``_summed``, one array per contract field."""
    summed = _summed(contributions)
    return {name: summed[:, k] for k, name in enumerate(CONTRACT_FIELDS)}


def field_rows(contributions: np.ndarray) -> list[dict[str, float]]:
    """``_summed`` row by row, as plain floats: what an answer carries."""
    return [dict(zip(CONTRACT_FIELDS, row, strict=True)) for row in _summed(contributions).tolist()]


def _threads(rows: int) -> int:
    return 1 if rows < SMALL_BATCH else 0
