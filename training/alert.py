"""Fitting the indicator-alert classifier, and its two baselines.

``fit_alert_model`` trains ``models.alert.AlertModel``: LightGBM with the monotone constraints of
``features.spec`` (where the evidence gives a direction), calibrated on data the booster did not see.
The hand rule and the logistic regression are the baselines it must beat.
"""

from __future__ import annotations

from dataclasses import dataclass
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

from features.spec import label, monotone_directions, spec, threshold, work_ability_band
from features.transformers import BookingFeatures
from models.alert import BOOSTER_FEATURES, AlertModel, booster_frame
from training.config import AlertModelConfig, BoosterConfig


def _hand_rule_text() -> str:
    poor = spec("work_ability_band")
    return (
        "alert when the client is out of work (unemployed or laid off) or has "
        f"{threshold('long_sickness_absence'):g}+ days of sickness absence, the situation is "
        f"prolonged ({label('long_term_unemployed', 'en').lower()}, "
        f"{label('long_sickness_absence', 'en').lower()} or a "
        f"{label('prolonged_complaint', 'en').lower()}), and the self-rated work ability score "
        f"is in the band '{poor.value_texts['poor'].en}' (below {poor.edges[0]:g})"
    )


#: The hand rule teams use today, stated once (docs and model card quote it from here).
HAND_RULE = _hand_rule_text()


def hand_rule_alert(features: pd.DataFrame) -> np.ndarray:
    """The hand rule on a BookingFeatures frame: True where today's rule of thumb would alert."""
    long_absence = features["long_sickness_absence"].fillna(0).to_numpy() == 1
    out_of_work = features["out_of_work"].to_numpy() == 1
    prolonged = features["prolonged_situations"].to_numpy() >= 1
    poor = work_ability_band(0)  # the lowest band
    low_score = features["work_ability_band"].astype(object).to_numpy() == poor
    result: np.ndarray = (out_of_work | long_absence) & prolonged & low_score
    return result


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


def booster_params(config: BoosterConfig, seed: int) -> dict[str, Any]:
    """LightGBM's parameters from a model config, as the alert and support models share them."""
    return {
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


def fit_alert_model(
    records: pd.DataFrame,
    y: np.ndarray,
    calibration_records: pd.DataFrame,
    calibration_y: np.ndarray,
    config: AlertModelConfig,
    seed: int = 0,
) -> AlertModel:
    """LightGBM with the specification's monotone constraints, calibrated on records it did not
    see (``calibration_records``)."""
    features = BookingFeatures().fit(records)
    matrix = booster_frame(features.transform(records))
    params = booster_params(config, seed) | {"objective": "binary"}
    categorical = [c for c in features.categorical_features if c in BOOSTER_FEATURES]
    if config.monotone:
        directions = monotone_directions()
        params["monotone_constraints"] = [directions[c] for c in matrix.columns]
        # "advanced" broke monotonicity here (LightGBM 4.7, with categorical splits in the same
        # trees; tests/training/test_alert.py caught it); "intermediate" holds exactly.
        params["monotone_constraints_method"] = "intermediate"
    dataset = lgb.Dataset(matrix, label=y, categorical_feature=categorical, free_raw_data=True)
    booster = lgb.train(params, dataset, num_boost_round=config.n_estimators)
    model = AlertModel(
        features=features, booster=booster, calibrator=None, calibration=config.calibration
    )
    model.calibrator = _fit_calibrator(
        model.raw_score(calibration_records), calibration_y, config.calibration
    )
    return model


def _fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str) -> Any:
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
    return LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
