"""The steps of training as pure functions (Kedro's lesson): data in, results out, no MLflow.

``training.train`` orders them and talks to MLflow; each step is tested alone.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data_contracts.contract import TARGET, TRUE_RISK
from data_contracts.validation import load_bookings
from features.groups import fairness_groups
from models.alert import AlertModel
from models.config import FairnessLimits
from models.evaluation import (
    FairnessReport,
    capacity_threshold,
    classification_metrics,
    fairness_report,
)
from models.segmentation import SegmentationModel
from models.support import SupportModel
from training.alert import HandRuleBaseline, LogisticBaseline, Scorer, fit_alert_model
from training.config import AlertModelConfig, TrainConfig
from training.support import (
    SupportEvaluation,
    choose_team_threshold,
    evaluate_support,
    fit_support_model,
    records_matrix,
    support_labels,
)


@dataclass
class Split:
    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame


@dataclass
class Candidate:
    """One LightGBM configuration of the search and how it did on the calibration (validation) set."""

    config: AlertModelConfig
    model: AlertModel
    validation: dict[str, float]


@dataclass(frozen=True)
class Thresholds:
    #: the probability at which the capacity share of bookings is alerted
    alert: float
    #: the probability of the top half of that share ("high")
    high: float


def load_training_data(config: TrainConfig, data_file: Path | None = None) -> pd.DataFrame:
    """Labelled booking records from a file, or synthetic cohorts as configured."""
    source = data_file or config.data.file
    if source is not None:
        frame = load_bookings(source, labelled=True)
        if TARGET not in frame:
            raise ValueError(f"{source}: no {TARGET} column; training needs outcomes")
        return frame[frame[TARGET].notna()].reset_index(drop=True)
    from synthetic.cohort import generate_cohort

    parts = [
        generate_cohort(region, config.data.rows_per_region, config.data.seed)
        for region in config.data.regions
    ]
    return pd.concat(parts, ignore_index=True)


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 of the training frame's values, logged so a run can be tied to its data."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def split_data(frame: pd.DataFrame, config: TrainConfig) -> Split:
    """Stratified on the outcome, reproducible from the seed."""
    rng = np.random.default_rng(config.data.seed + 1)
    y = frame[TARGET].to_numpy(dtype=bool)
    position = np.empty(len(frame))
    for value in (True, False):
        members = np.flatnonzero(y == value)
        position[members] = rng.permutation(len(members)) / max(1, len(members))
    test = position < config.data.test_share
    calibration = ~test & (position < config.data.test_share + config.data.calibration_share)
    train = ~test & ~calibration
    return Split(frame[train], frame[calibration], frame[test])


def labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[TARGET].to_numpy(dtype=bool)


def true_risk(frame: pd.DataFrame) -> np.ndarray | None:
    """The generator's exact probability of need, where the data is synthetic."""
    if TRUE_RISK in frame and frame[TRUE_RISK].notna().all():
        return frame[TRUE_RISK].to_numpy(dtype=float)
    return None


def candidate_configs(config: TrainConfig) -> list[AlertModelConfig]:
    """The configured alert model, or every combination of the search grid."""
    if not config.search:
        return [config.alert]
    names = list(config.search)
    return [
        AlertModelConfig.model_validate(
            {**config.alert.model_dump(), **dict(zip(names, values, strict=True))}
        )
        for values in itertools.product(*(config.search[n] for n in names))
    ]


def evaluate_baselines(parts: Split, config: TrainConfig) -> dict[str, dict[str, float]]:
    """The hand rule and the logistic regression, fitted on train, measured on test."""
    y_test = labels(parts.test)
    baselines: dict[str, Scorer] = {
        "hand_rule": HandRuleBaseline.fit(parts.train),
        "logistic": LogisticBaseline.fit(parts.train, labels(parts.train), config.alert.logistic_c),
    }
    return {
        name: classification_metrics(y_test, model.predict_proba(parts.test), true_risk(parts.test))
        for name, model in baselines.items()
    }


def _selection_score(metrics: dict[str, float], name: str) -> float:
    return -metrics[name] if name == "brier" else metrics[name]


def select_alert_model(parts: Split, config: TrainConfig) -> tuple[Candidate, list[Candidate]]:
    """Every candidate fitted on train and calibrated and validated on the calibration set; the
    best on the promotion metric, and all of them."""
    y_train, y_cal = labels(parts.train), labels(parts.calibration)
    candidates = []
    for candidate in candidate_configs(config):
        model = fit_alert_model(
            parts.train, y_train, parts.calibration, y_cal, candidate, config.data.seed
        )
        validation = classification_metrics(y_cal, model.predict_proba(parts.calibration))
        candidates.append(Candidate(candidate, model, validation))
    best = max(
        candidates, key=lambda c: _selection_score(c.validation, config.promotion_metric)
    )  # the first of equals, as the search order gives them
    return best, candidates


def set_thresholds(calibration_probability: np.ndarray, capacity: float) -> Thresholds:
    """Thresholds that alert the capacity share of bookings, and the top half of it as "high"."""
    return Thresholds(
        alert=capacity_threshold(calibration_probability, capacity),
        high=capacity_threshold(calibration_probability, capacity / 2),
    )


def score_test_set(
    model: AlertModel, test: pd.DataFrame, thresholds: Thresholds
) -> tuple[dict[str, float], np.ndarray]:
    """The chosen model on the held-out test set: metrics, and its probabilities."""
    probability = model.predict_proba(test)
    metrics = classification_metrics(labels(test), probability, true_risk(test))
    metrics["alert_threshold"] = thresholds.alert
    metrics["alert_rate_test"] = float((probability >= thresholds.alert).mean())
    return metrics, probability


def check_fairness(test: pd.DataFrame, alert: np.ndarray, limits: FairnessLimits) -> FairnessReport:
    """TPR and FPR by sex, age band, first language and region against the configured limits."""
    return fairness_report(
        labels(test),
        alert,
        fairness_groups(test),
        limits.max_true_positive_rate_difference,
        limits.max_false_positive_rate_difference,
        limits.min_group_size,
        limits.min_group_positives,
    )


def fit_support(
    parts: Split, alert_model: AlertModel, thresholds: Thresholds, seed: int
) -> tuple[SupportModel, pd.DataFrame]:
    """The support-level model fitted on train, its temperature and its team threshold chosen on
    the calibration set (with the alert as the registered model raises it); and the threshold
    search."""
    y_cal = support_labels(parts.calibration)
    model = fit_support_model(
        parts.train, support_labels(parts.train), parts.calibration, y_cal, seed=seed
    )
    matrix = records_matrix(parts.calibration)
    alert = alert_model.calibrate(alert_model.raw_scores(matrix)) >= thresholds.alert
    model.team_threshold, selection = choose_team_threshold(
        model.predict_proba(matrix), alert, y_cal
    )
    return model, selection


def score_support(
    model: SupportModel,
    alert_model: AlertModel,
    test: pd.DataFrame,
    thresholds: Thresholds,
    segmentation: SegmentationModel,
    selection: pd.DataFrame,
) -> SupportEvaluation:
    """The recommendation on the held-out test set against the confirmed levels and today's
    segment-mode rule."""
    matrix = records_matrix(test)
    alert = alert_model.calibrate(alert_model.raw_scores(matrix)) >= thresholds.alert
    return evaluate_support(model, matrix, alert, support_labels(test), segmentation, selection)
