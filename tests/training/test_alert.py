"""Behaviour of the indicator-alert classifier: direction, invariance, minimum functionality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_contracts.booking import BookingRecord
from models.alert import AlertModel
from models.evaluation import classification_metrics
from training.alert import HandRuleBaseline, LogisticBaseline
from training.steps import Split

pytestmark = [pytest.mark.model, pytest.mark.slow]


def _with(records: pd.DataFrame, **values: object) -> pd.DataFrame:
    changed = records.copy()
    for name, value in values.items():
        changed[name] = pd.Series([value] * len(changed), index=changed.index).astype(
            records[name].dtype
        )
    return changed


def test_lower_work_ability_score_never_lowers_the_probability(
    alert_model: AlertModel, sample: pd.DataFrame
) -> None:
    by_score = np.column_stack(
        [alert_model.predict_proba(_with(sample, work_ability_score=s)) for s in range(11)]
    )
    raw = np.column_stack(
        [alert_model.raw_score(_with(sample, work_ability_score=s)) for s in range(11)]
    )
    assert np.all(np.diff(raw, axis=1) <= 1e-12), "raw score rose with a higher score"
    assert np.all(np.diff(by_score, axis=1) <= 1e-12), "probability rose with a higher score"


def test_longer_unemployment_never_lowers_the_probability(
    alert_model: AlertModel, sample: pd.DataFrame
) -> None:
    unemployed = _with(sample, employment_status="unemployed")
    months = [0, 3, 6, 11, 12, 18, 24, 36, 60, 120]
    raw = np.column_stack(
        [alert_model.raw_score(_with(unemployed, months_unemployed=m)) for m in months]
    )
    assert np.all(np.diff(raw, axis=1) >= -1e-12)


@pytest.mark.parametrize("field", ["sickness_absence_days_12m", "complaint_duration_weeks"])
def test_longer_prolonged_situations_never_lower_the_probability(
    alert_model: AlertModel, sample: pd.DataFrame, field: str
) -> None:
    values = [0, 5, 12, 30, 60, 90, 180, 260]
    raw = np.column_stack([alert_model.raw_score(_with(sample, **{field: v})) for v in values])
    assert np.all(np.diff(raw, axis=1) >= -1e-12)


def test_identifiers_and_protected_attributes_change_nothing(
    alert_model: AlertModel, sample: pd.DataFrame
) -> None:
    before = alert_model.predict_proba(sample)
    changed = sample.copy()
    changed["client_ref"] = [f"other-ref-{i:06d}" for i in range(len(sample))]
    changed["booking_id"] = [f"other-{i}" for i in range(len(sample))]
    changed = _with(changed, sex="male", first_language="sv", region="lappi", age=30)
    np.testing.assert_array_equal(before, alert_model.predict_proba(changed))


def test_model_beats_both_baselines_and_nears_the_best_achievable(
    alert_model: AlertModel, parts: Split
) -> None:
    y = parts.train["needs_support"].to_numpy(dtype=bool)
    y_test = parts.test["needs_support"].to_numpy(dtype=bool)
    truth = parts.test["true_risk"].to_numpy(dtype=float)
    model = classification_metrics(y_test, alert_model.predict_proba(parts.test), truth)
    logistic = LogisticBaseline.fit(parts.train, y).predict_proba(parts.test)
    rule = HandRuleBaseline.fit(parts.train).predict_proba(parts.test)
    assert model["roc_auc"] > classification_metrics(y_test, logistic)["roc_auc"]
    assert model["roc_auc"] > classification_metrics(y_test, rule)["roc_auc"] + 0.15
    assert model["roc_auc_gap_to_true_risk"] < 0.04
    assert model["ece"] < 0.01


def test_contributions_sum_to_the_raw_score_and_name_contract_fields(
    alert_model: AlertModel, sample: pd.DataFrame
) -> None:
    contributions = alert_model.contributions(sample)
    np.testing.assert_allclose(contributions.sum(axis=1), alert_model.raw_score(sample), atol=1e-9)
    assert "work_ability_score" in contributions
    assert not {"sex", "first_language", "age", "client_ref"} & set(contributions.columns)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_direct_calibration_equals_the_fitted_calibrator(
    alert_model: AlertModel, sample: pd.DataFrame, method: str
) -> None:
    from training.alert import _fit_calibrator

    raw = alert_model.raw_score(sample)
    y = sample["needs_support"].to_numpy(dtype=bool)
    calibrator = _fit_calibrator(raw, y, method)
    model = AlertModel(alert_model.features, alert_model.booster, calibrator, method)
    expected = (
        calibrator.predict(raw)
        if method == "isotonic"
        else calibrator.predict_proba(raw.reshape(-1, 1))[:, 1]
    )
    np.testing.assert_allclose(model.calibrate(raw), expected, atol=1e-12)


def test_records_and_frames_score_as_lightgbm_scores_its_training_frame(
    alert_model: AlertModel, sample: pd.DataFrame
) -> None:
    """The one scoring path (a float matrix, categories as contract codes) from API records and
    from a frame gives what the booster gives on the pandas-categorical frame it was trained on."""
    from data_contracts.contract import BOOKING_COLUMNS
    from data_contracts.records import as_json_records
    from features.transformers import encode_records, feature_matrix
    from models.alert import booster_frame

    records = [
        BookingRecord.model_validate(r).model_dump()
        for r in as_json_records(sample[list(BOOKING_COLUMNS)])
    ]
    trained_on = booster_frame(alert_model.features.transform(sample))
    expected = alert_model.booster.predict(trained_on, raw_score=True)
    contributions = alert_model.contributions_matrix(feature_matrix(encode_records(records)))
    np.testing.assert_allclose(contributions.sum(axis=1), expected, atol=1e-9)
    np.testing.assert_allclose(alert_model.raw_score(sample), expected, atol=1e-9)
