"""Fitting the support-level model and measuring its recommendation against today's rule.

``fit_support_model`` trains ``models.support.SupportModel``: LightGBM multiclass on the same
features as the alert model, over four labels (a client who did not need support is "none",
otherwise the confirmed ``support_level``), then one softmax temperature fitted on calibration data
the booster did not see. ``choose_team_threshold`` picks, on the same calibration data, the
probability of needing the team at which an alerted client is recommended the team: the one whose
recommendations agree best with the confirmed levels (quadratic weighted kappa).

The comparison is today's segment-mode rule (``training.segmentation``): every client gets their
segment's level, which is the level most often confirmed in the segment when its need is above
average, self-care otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import Field
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from data_contracts.contract import TARGET
from features.transformers import BookingFeatures, encode_frame, feature_matrix
from models.alert import BOOSTER_FEATURES, booster_frame
from models.evaluation import expected_calibration_error
from models.segmentation import SegmentationModel
from models.support import LEVELS, Recommendation, SupportModel, level_index, recommend
from training.alert import booster_params
from training.config import BoosterConfig

SUPPORT_LEVEL = "support_level"
_CONSULTATION = LEVELS.index(Recommendation.CONSULTATION)
_TEAM = LEVELS.index(Recommendation.TEAM)


class SupportModelConfig(BoosterConfig):
    # 100 rounds at 0.1: the calibration log loss is lowest there (0.1925; 0.1929 at 150, 0.1932
    # at 200, 0.1939 at 50 rounds; 200,000 rows), and each round is four trees to explain.
    n_estimators: int = Field(100, ge=10, le=5_000)
    learning_rate: float = Field(0.1, gt=0, le=1)


def support_labels(frame: pd.DataFrame) -> np.ndarray:
    """Ordinal labels 0-3: "none" where the client did not need support, else the confirmed level."""
    needed = frame[TARGET].to_numpy(dtype=bool)
    confirmed = frame[SUPPORT_LEVEL].astype(object).to_numpy()
    if pd.isna(confirmed[needed]).any():
        raise ValueError(f"{SUPPORT_LEVEL} is missing for a client who needed support")
    labels = np.zeros(len(frame), dtype=np.int64)
    labels[needed] = level_index(confirmed[needed])
    return labels


def records_matrix(records: pd.DataFrame) -> np.ndarray:
    """The feature matrix of validated booking records: what every model of the package reads."""
    return feature_matrix(encode_frame(records))


def fit_support_model(
    records: pd.DataFrame,
    y: np.ndarray,
    calibration_records: pd.DataFrame,
    calibration_y: np.ndarray,
    config: SupportModelConfig | None = None,
    seed: int = 0,
) -> SupportModel:
    """The multiclass booster on ``records``, its temperature fitted on ``calibration_records``."""
    config = config or SupportModelConfig()
    features = BookingFeatures().fit(records)
    frame = booster_frame(features.transform(records))
    params = booster_params(config, seed) | {"objective": "multiclass", "num_class": len(LEVELS)}
    categorical = [c for c in features.categorical_features if c in BOOSTER_FEATURES]
    dataset = lgb.Dataset(frame, label=y, categorical_feature=categorical, free_raw_data=True)
    booster = lgb.train(params, dataset, num_boost_round=config.n_estimators)
    model = SupportModel(booster=booster)
    raw = model.raw_scores(records_matrix(calibration_records))
    model.temperature = fit_temperature(raw, calibration_y)
    table = calibration_table(
        model.calibrate(raw), calibration_y, SupportModel(booster).calibrate(raw)
    )
    model.calibration = {
        f"{kind}_{row.level}": float(getattr(row, kind))
        for row in table.itertuples(index=False)
        for kind in ("ece", "ece_uncalibrated", "mean_predicted", "observed")
    }
    return model


def fit_temperature(raw: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the log loss of softmax(raw / T) on held-out data."""
    rows = np.arange(len(y))

    def log_loss(log_t: float) -> float:
        return float(-log_softmax(raw / np.exp(log_t), axis=1)[rows, y].mean())

    found = minimize_scalar(log_loss, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(found.x))


def log_loss(probabilities: np.ndarray, y: np.ndarray) -> float:
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-15, 1.0)
    return float(-np.log(picked).mean())


def calibration_table(
    probabilities: np.ndarray, y: np.ndarray, uncalibrated: np.ndarray | None = None
) -> pd.DataFrame:
    """Per level (one against the rest): mean predicted probability, observed share, ECE (ten
    equal-count bins), and the ECE before the temperature where ``uncalibrated`` is given."""
    rows = []
    for k, level in enumerate(LEVELS):
        observed = (y == k).astype(float)
        row: dict[str, Any] = {
            "level": level.value,
            "mean_predicted": float(probabilities[:, k].mean()),
            "observed": float(observed.mean()),
            "ece": expected_calibration_error(observed, probabilities[:, k]),
        }
        if uncalibrated is not None:
            row["ece_uncalibrated"] = expected_calibration_error(observed, uncalibrated[:, k])
        rows.append(row)
    return pd.DataFrame(rows)


def confusion(y: np.ndarray, recommended: np.ndarray) -> np.ndarray:
    """Counts: rows the confirmed level, columns the recommended one, both in ordinal order."""
    k = len(LEVELS)
    counts: np.ndarray = np.bincount(y * k + recommended, minlength=k * k).reshape(k, k)
    return counts


def quadratic_kappa(y: np.ndarray, recommended: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights over the ordinal levels none < ... < team."""
    observed = confusion(np.asarray(y), np.asarray(recommended)).astype(float)
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    index = np.arange(len(LEVELS))
    weights = (index[:, None] - index[None, :]) ** 2 / (len(LEVELS) - 1) ** 2
    chance = float((weights * expected).sum())
    return 1.0 - float((weights * observed).sum()) / chance if chance > 0 else 0.0


def choose_team_threshold(
    probabilities: np.ndarray, alert: np.ndarray, y: np.ndarray
) -> tuple[float, pd.DataFrame]:
    """The P(team) threshold (among quantiles of P(team) of alerted clients, or never) whose
    recommendations agree best with the confirmed levels; the highest of equals."""
    alerted_team = probabilities[alert, _TEAM]
    candidates = np.unique(
        np.quantile(alerted_team, np.linspace(0, 0.99, 100)) if len(alerted_team) else []
    )
    rows = []
    for threshold in [*candidates, np.inf]:
        recommended, _ = recommend(probabilities, alert, float(threshold))
        rows.append(
            {
                "team_threshold": float(threshold),
                "kappa_quadratic": quadratic_kappa(y, recommended),
                "team_share": float((recommended == _TEAM).mean()),
            }
        )
    table = pd.DataFrame(rows)
    best = table["kappa_quadratic"].max()
    chosen = float(table.loc[table["kappa_quadratic"] >= best - 1e-12, "team_threshold"].max())
    table["chosen"] = table["team_threshold"] == chosen
    return chosen, table


def segment_mode_levels(segmentation: SegmentationModel, matrix: np.ndarray) -> np.ndarray:
    """Today's rule as ordinal indices: every client gets their segment's support level."""
    ids = segmentation.assign_matrix(matrix)
    by_segment = {
        key: segment.support_level.value for key, segment in segmentation.segments.items()
    }
    return level_index(np.array([by_segment[i] for i in ids], dtype=object))


@dataclass
class SupportEvaluation:
    """The recommendation on held-out data, against the confirmed levels and today's rule."""

    metrics: dict[str, float]
    #: per level: confirmed share, and the share each rule recommends
    distribution: pd.DataFrame
    #: rule name -> confusion counts (rows confirmed, columns recommended)
    confusion: dict[str, pd.DataFrame]
    calibration: pd.DataFrame
    team_selection: pd.DataFrame


def evaluate_support(
    model: SupportModel,
    matrix: np.ndarray,
    alert: np.ndarray,
    y: np.ndarray,
    segmentation: SegmentationModel,
    team_selection: pd.DataFrame,
) -> SupportEvaluation:
    """The model's recommendation and today's segment-mode rule on the same clients."""
    raw = model.raw_scores(matrix)
    probabilities = model.calibrate(raw)
    recommended, rules = model.recommend(probabilities, alert)
    expected_only, _ = recommend(probabilities, np.zeros(len(y), dtype=bool), np.inf)
    segment_mode = segment_mode_levels(segmentation, matrix)
    compared = {
        "model_rule": recommended,
        "segment_mode": segment_mode,
        # the segment's level read only where the alert is raised, "none" elsewhere (what staff
        # read today from alert and segment together), and the same raised to consultation
        "segment_mode_alerted": np.where(alert, segment_mode, 0),
        "segment_mode_alerted_floor": np.where(alert, np.maximum(segment_mode, _CONSULTATION), 0),
        "expected_agreement_only": expected_only,
    }
    uncalibrated = SupportModel(model.booster).calibrate(raw)
    calibration = calibration_table(probabilities, y, uncalibrated)
    metrics: dict[str, float] = {
        "support_temperature": model.temperature,
        "support_team_threshold": model.team_threshold,
        "support_log_loss": log_loss(probabilities, y),
        "support_log_loss_uncalibrated": log_loss(uncalibrated, y),
        "support_alerts_below_consultation": float((alert & (recommended < _CONSULTATION)).sum()),
    }
    for name, levels in compared.items():
        suffix = "" if name == "model_rule" else f"_{name}"
        metrics[f"support_kappa_quadratic{suffix}"] = quadratic_kappa(y, levels)
        metrics[f"support_agreement{suffix}"] = float((levels == y).mean())
    names = [level.value for level in LEVELS]
    for k, level in enumerate(names):
        metrics[f"support_confirmed_share_{level}"] = float((y == k).mean())
        metrics[f"support_recommended_share_{level}"] = float((recommended == k).mean())
        metrics[f"support_ece_{level}"] = float(calibration["ece"].iloc[k])
        metrics[f"support_ece_uncalibrated_{level}"] = float(
            calibration["ece_uncalibrated"].iloc[k]
        )
    for rule in np.unique(rules):
        metrics[f"support_rule_share_{rule}"] = float((rules == rule).mean())
    distribution = pd.DataFrame(
        {
            "level": names,
            "confirmed": np.bincount(y, minlength=len(names)) / len(y),
            **{
                name: np.bincount(levels, minlength=len(names)) / len(y)
                for name, levels in compared.items()
                if name in ("model_rule", "segment_mode", "segment_mode_alerted")
            },
        }
    )
    tables = {
        name: pd.DataFrame(
            confusion(y, compared[name]),
            index=pd.Index([f"confirmed {n}" for n in names], name="confirmed"),
            columns=[f"recommended {n}" for n in names],
        )
        for name in ("model_rule", "segment_mode")
    }
    return SupportEvaluation(metrics, distribution, tables, calibration, team_selection)
