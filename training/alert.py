"""The indicator-alert classifier and its two baselines.

``AlertModel`` holds the feature pipeline, a LightGBM booster (trained with monotone constraints where
the evidence gives a direction) and a calibrator fitted on data the booster did not see. It scores
raw booking records: the feature pipeline is inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from features.transformers import MONOTONE_DIRECTIONS, BookingFeatures, source_fields
from training.config import AlertModelConfig

#: The hand rule teams use today, stated once (docs and model card quote it from here).
SMALL_BATCH = 256  # rows below which LightGBM predicts on one thread

HAND_RULE = (
    "alert when the client is out of work (unemployed or laid off) or has 30+ days of sickness "
    "absence, the situation is prolonged (unemployed 12+ months, sickness absence 30+ days or a "
    "complaint of 12+ weeks), and the self-rated work ability score is 5 or less"
)


def hand_rule_alert(features: pd.DataFrame) -> np.ndarray:
    """The hand rule on a BookingFeatures frame: True where today's rule of thumb would alert."""
    long_absence = features["long_sickness_absence"].fillna(0).to_numpy() == 1
    out_of_work = features["out_of_work"].to_numpy() == 1
    prolonged = features["prolonged_situations"].to_numpy() >= 1
    low_score = features["work_ability_score"].fillna(99).to_numpy() <= 5
    result: np.ndarray = (out_of_work | long_absence) & prolonged & low_score
    return result


# Left out of the booster: the band is a categorical copy of the work ability score, and LightGBM
# cannot constrain a categorical monotonically, so it could let a lower score lower the alert.
# (The band stays in BookingFeatures for people: explanations and segment profiles use it.)
NOT_FOR_BOOSTER: tuple[str, ...] = ("work_ability_band",)


def booster_matrix(features: BookingFeatures, records: pd.DataFrame) -> pd.DataFrame:
    return features.transform(records).drop(columns=list(NOT_FOR_BOOSTER))


class Scorer(Protocol):
    def predict_proba(self, records: pd.DataFrame) -> np.ndarray: ...


def _logistic_pipeline(features: BookingFeatures, c: float) -> Pipeline:
    numeric = [
        n for n in features.get_feature_names_out() if n not in features.categorical_features
    ]
    encode = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), features.categorical_features),
        ]
    )
    return make_pipeline(encode, LogisticRegression(C=c, max_iter=500))


@dataclass
class LogisticBaseline:
    """Baseline (b): logistic regression on the same features, one-hot encoded and scaled."""

    features: BookingFeatures
    pipeline: Pipeline

    @classmethod
    def fit(cls, records: pd.DataFrame, y: np.ndarray, c: float = 1.0) -> LogisticBaseline:
        features = BookingFeatures().fit(records)
        pipeline = _logistic_pipeline(features, c)
        encoded = _for_sklearn(features.transform(records), features.categorical_features)
        pipeline.fit(encoded, y)
        return cls(features, pipeline)

    def predict_proba(self, records: pd.DataFrame) -> np.ndarray:
        encoded = _for_sklearn(self.features.transform(records), self.features.categorical_features)
        probability: np.ndarray = self.pipeline.predict_proba(encoded)[:, 1]
        return probability


def _for_sklearn(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    # OneHotEncoder wants plain strings; a missing category becomes its own level.
    out = frame.copy()
    for name in categorical:
        out[name] = out[name].astype("object").fillna("missing").astype(str)
    return out


@dataclass
class HandRuleBaseline:
    """Baseline (a): the rule of thumb, as a score of 0 or 1 (ties at the capacity cut are random)."""

    features: BookingFeatures

    @classmethod
    def fit(cls, records: pd.DataFrame) -> HandRuleBaseline:
        return cls(BookingFeatures().fit(records))

    def predict_proba(self, records: pd.DataFrame) -> np.ndarray:
        return hand_rule_alert(self.features.transform(records)).astype(float)


@dataclass
class AlertModel:
    """LightGBM on the booking features, calibrated; scores raw booking records."""

    features: BookingFeatures
    booster: lgb.Booster
    calibrator: Any  # IsotonicRegression or LogisticRegression on the raw score
    calibration: str
    threshold: float = 0.5  # set from the capacity on held-out data
    feature_names: list[str] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        records: pd.DataFrame,
        y: np.ndarray,
        calibration_records: pd.DataFrame,
        calibration_y: np.ndarray,
        config: AlertModelConfig,
        seed: int = 0,
    ) -> AlertModel:
        features = BookingFeatures().fit(records)
        matrix = booster_matrix(features, records)
        params: dict[str, Any] = {
            "objective": "binary",
            "learning_rate": config.learning_rate,
            "num_leaves": config.num_leaves,
            "min_child_samples": config.min_child_samples,
            "reg_lambda": config.reg_lambda,
            "bagging_fraction": config.subsample,
            "bagging_freq": 1 if config.subsample < 1 else 0,
            "feature_fraction": config.colsample_bytree,
            "seed": seed,
            "deterministic": True,
            "num_threads": 2,
            "verbosity": -1,
        }
        categorical = [c for c in features.categorical_features if c not in NOT_FOR_BOOSTER]
        if config.monotone:
            params["monotone_constraints"] = [MONOTONE_DIRECTIONS.get(c, 0) for c in matrix.columns]
            # "advanced" broke monotonicity here (LightGBM 4.7, with categorical splits in the same
            # trees; tests/training/test_alert.py caught it); "intermediate" holds exactly.
            params["monotone_constraints_method"] = "intermediate"
        dataset = lgb.Dataset(matrix, label=y, categorical_feature=categorical, free_raw_data=True)
        booster = lgb.train(params, dataset, num_boost_round=config.n_estimators)
        model = cls(
            features=features,
            booster=booster,
            calibrator=None,
            calibration=config.calibration,
            feature_names=list(matrix.columns),
        )
        model.calibrator = _fit_calibrator(
            model.raw_score(calibration_records), calibration_y, config.calibration
        )
        return model

    def raw_score(self, records: pd.DataFrame) -> np.ndarray:
        """The booster's log-odds (what SHAP contributions add up to)."""
        matrix = booster_matrix(self.features, records)
        return np.asarray(self.booster.predict(matrix, raw_score=True))

    def booster_columns(self) -> np.ndarray:
        """Positions of the booster's inputs among BookingFeatures' output columns."""
        names = list(self.features.get_feature_names_out())
        return np.array([names.index(name) for name in self.feature_names])

    def contributions_matrix(self, features: np.ndarray) -> np.ndarray:
        """SHAP contributions (log-odds) per booster input, base value last, from the float matrix
        of ``BookingFeatures.transform_records`` (the fast path used when serving)."""
        matrix = features[:, self.booster_columns()]
        # One thread for small batches: OpenMP start-up costs more than a few rows (3.0 -> 0.6 ms).
        threads = 1 if len(matrix) < SMALL_BATCH else 0
        return np.asarray(self.booster.predict(matrix, pred_contrib=True, num_threads=threads))

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

    def predict_proba(self, records: pd.DataFrame) -> np.ndarray:
        return self.calibrate(self.raw_score(records))

    def contributions(self, records: pd.DataFrame) -> pd.DataFrame:
        """SHAP values in log-odds per contract field (columns), plus ``base_value``.

        LightGBM's ``pred_contrib`` equals ``shap.TreeExplainer(booster).shap_values`` exactly; derived
        features are summed back to the contract fields they come from.
        """
        matrix = booster_matrix(self.features, records)
        raw = np.asarray(self.booster.predict(matrix, pred_contrib=True))
        columns: dict[str, np.ndarray] = {}
        for position, name in enumerate(self.feature_names):
            sources = source_fields(name)
            for source in sources:
                share = raw[:, position] / len(sources)
                columns[source] = columns.get(source, 0.0) + share
        out = pd.DataFrame(columns, index=records.index)
        out["base_value"] = raw[:, -1]
        return out


def _fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str) -> Any:
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
    return LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
