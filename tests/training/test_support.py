"""The recommended support level: the rule, the model behind it, and its agreement with the
confirmed levels against today's segment-mode rule (issue: the team was never recommended, and an
alert could come with self-care)."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from data_contracts.booking import BookingRecord, SupportLevel
from models.alert import AlertModel
from models.packaged import KykytutkaModel, ModelMetadata
from models.registry import IncompatibleModel, load_model
from models.segmentation import SegmentationModel
from models.support import (
    LEVELS,
    Recommendation,
    RecommendationRule,
    SupportModel,
    contrast,
    level_index,
    recommend,
)
from training.segmentation import fit_segmentation
from training.steps import Split, Thresholds, fit_support, score_support, set_thresholds
from training.support import (
    SupportEvaluation,
    quadratic_kappa,
    records_matrix,
    support_labels,
)

pytestmark = [pytest.mark.model, pytest.mark.slow]

NONE, SELF_CARE, CONSULTATION, TEAM = range(4)


@pytest.fixture(scope="module")
def thresholds(alert_model: AlertModel, parts: Split) -> Thresholds:
    return set_thresholds(alert_model.predict_proba(parts.calibration), 0.10)


@pytest.fixture(scope="module")
def support(alert_model: AlertModel, parts: Split, thresholds: Thresholds) -> SupportModel:
    model, _ = fit_support(parts, alert_model, thresholds, seed=0)
    return model


@pytest.fixture(scope="module")
def segmentation(parts: Split) -> SegmentationModel:
    train = parts.train
    return fit_segmentation(
        train,
        train["needs_support"].to_numpy(dtype=bool),
        train["support_level"].astype(object),
        candidates=(3, 4, 5),
        sample_rows=5_000,
        refits=2,
    )


@pytest.fixture(scope="module")
def evaluation(
    support: SupportModel,
    alert_model: AlertModel,
    parts: Split,
    thresholds: Thresholds,
    segmentation: SegmentationModel,
) -> SupportEvaluation:
    return score_support(support, alert_model, parts.test, thresholds, segmentation, pd.DataFrame())


@pytest.fixture(scope="module")
def packaged(
    alert_model: AlertModel,
    segmentation: SegmentationModel,
    support: SupportModel,
    thresholds: Thresholds,
) -> KykytutkaModel:
    metadata = ModelMetadata(alert_threshold=thresholds.alert, high_alert_threshold=thresholds.high)
    return KykytutkaModel(alert_model, segmentation, metadata, support)


def booking(**changes: object) -> dict[str, object]:
    """A validated booking record: a working client with a short complaint, unless changed."""
    record = {
        "client_ref": "client-0000001",
        "booking_id": "support-1",
        "booking_time": "2025-03-03T09:00:00Z",
        "age": 45,
        "sex": "female",
        "first_language": "fi",
        "region": "pirkanmaa",
        "municipality": "837",
        "employment_status": "employed",
        "months_unemployed": 0,
        "sickness_absence_days_12m": 0,
        "healthcare_visits_12m": 2,
        "contact_reason": "R",
        "complaint_duration_weeks": 1,
        "work_ability_score": 9,
        "referral_source": "self",
        "client_group": "new_client",
        "mental_health_concern": False,
        "substance_use_concern": False,
        "financial_difficulties": False,
        **changes,
    }
    return BookingRecord.model_validate(record).model_dump()


# -- the type and the rule ----------------------------------------------------------------------


def test_a_recommendation_is_none_or_a_contract_support_level_in_order() -> None:
    assert [level.value for level in LEVELS] == ["none", *(level.value for level in SupportLevel)]
    assert list(level_index(np.array(["team", "none"]))) == [TEAM, NONE]


def test_the_rule_never_gives_less_than_consultation_with_an_alert() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet([8, 1, 1, 1], size=20_000)  # mostly "none", as at booking
    alert = rng.random(20_000) < 0.3
    levels, rules = recommend(probabilities, alert, team_threshold=0.2)
    assert (levels[alert] >= CONSULTATION).all()
    assert (levels[~alert] != TEAM).all(), "the team comes only with an alert"
    raised = alert & (rules == RecommendationRule.ALERT.value)
    assert raised.any() and (levels[raised] == CONSULTATION).all()
    expected = np.digitize(probabilities @ np.arange(4), [0.5, 1.5, 2.5])
    chosen = rules == RecommendationRule.EXPECTED_AGREEMENT.value
    assert (levels[chosen] == expected[chosen]).all()
    team = rules == RecommendationRule.MOST_SIGNS.value
    assert (alert[team] & (probabilities[team, TEAM] >= 0.2)).all()


def test_the_expected_agreement_level_maximises_expected_quadratic_agreement() -> None:
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet([1, 1, 1, 1], size=2_000)
    levels, _ = recommend(probabilities, np.zeros(2_000, dtype=bool), np.inf)
    index = np.arange(4)
    agreement = probabilities @ (1 - (index[:, None] - index[None, :]) ** 2 / 9)
    assert (agreement[np.arange(2_000), levels] >= agreement.max(axis=1) - 1e-12).all()


def test_quadratic_kappa_is_cohens_with_quadratic_weights() -> None:
    rng = np.random.default_rng(2)
    y, recommended = rng.integers(0, 4, 5_000), rng.integers(0, 4, 5_000)
    recommended[:2_000] = y[:2_000]
    assert quadratic_kappa(y, recommended) == pytest.approx(
        cohen_kappa_score(y, recommended, weights="quadratic"), abs=1e-12
    )


def test_labels_are_none_where_no_support_was_needed(parts: Split) -> None:
    y = support_labels(parts.test)
    needed = parts.test["needs_support"].to_numpy(dtype=bool)
    assert (y[~needed] == NONE).all() and (y[needed] >= SELF_CARE).all()
    confirmed = parts.test["support_level"].astype(object).to_numpy()[needed]
    assert list(y[needed][:50]) == list(level_index(confirmed[:50]))


# -- the model ----------------------------------------------------------------------------------


def test_the_issue_client_gets_at_least_consultation(packaged: KykytutkaModel) -> None:
    """120 days of sickness absence, work ability 3, a mental-health concern: the alert is raised
    (as in the issue), and the recommendation is consultation or the team, never self-care."""
    issue = booking(
        sickness_absence_days_12m=120,
        work_ability_score=3,
        mental_health_concern=True,
        contact_reason="P",
        complaint_duration_weeks=26,
        referral_source="primary_care",
    )
    (assessed,) = packaged.explain_records([issue])
    assert packaged.alerted(np.array(assessed.probability))
    assert level_index(np.array([assessed.recommendation.level]))[0] >= CONSULTATION
    framed = packaged.assess(pd.DataFrame([issue]))
    assert framed["recommended_support_level"].iloc[0] == assessed.recommendation.level


def test_team_is_recommended_for_the_clients_with_the_most_signs(
    packaged: KykytutkaModel, evaluation: SupportEvaluation
) -> None:
    shares = evaluation.metrics
    confirmed, recommended = (
        shares["support_confirmed_share_team"],
        shares["support_recommended_share_team"],
    )
    assert 0.5 * confirmed <= recommended <= 2.5 * confirmed, (confirmed, recommended)
    counts = evaluation.confusion["model_rule"].to_numpy()
    precision = counts[TEAM, TEAM] / counts[:, TEAM].sum()
    assert precision >= 5 * confirmed, "the team goes to clients far likelier to need it"
    most = booking(
        employment_status="unemployed",
        months_unemployed=36,
        sickness_absence_days_12m=None,
        complaint_duration_weeks=52,
        work_ability_score=1,
        contact_reason="P",
        healthcare_visits_12m=12,
        referral_source="primary_care",
        mental_health_concern=True,
        substance_use_concern=True,
        financial_difficulties=True,
    )
    (assessed,) = packaged.explain_records([most])
    assert assessed.recommendation.level is Recommendation.TEAM


def test_the_probabilities_are_calibrated_per_level(
    support: SupportModel, evaluation: SupportEvaluation
) -> None:
    assert 0.7 <= support.temperature <= 1.4
    table = evaluation.calibration
    for row in table.to_dict("records"):
        observed, predicted = float(row["observed"]), float(row["mean_predicted"])
        assert abs(predicted - observed) <= 0.15 * min(observed, 1 - observed), row
        assert float(row["ece"]) <= 0.005, row
        # the temperature does not make it worse
        assert float(row["ece"]) <= float(row["ece_uncalibrated"]) + 0.001, row
    assert set(support.calibration) >= {f"ece_{level.value}" for level in LEVELS}


def test_agreement_beats_the_segment_mode_rule(evaluation: SupportEvaluation) -> None:
    metrics = evaluation.metrics
    assert metrics["support_kappa_quadratic"] >= 0.3
    assert (
        metrics["support_kappa_quadratic"] >= metrics["support_kappa_quadratic_segment_mode"] + 0.2
    )
    assert metrics["support_alerts_below_consultation"] == 0
    assert metrics["support_recommended_share_none"] >= 0.8  # most bookings need nothing


def test_more_signs_never_lower_the_recommended_level(packaged: KykytutkaModel) -> None:
    signs: list[dict[str, object]] = [
        {"complaint_duration_weeks": 14},
        {"work_ability_score": 5},
        {"sickness_absence_days_12m": 45},
        {"mental_health_concern": True},
        {"work_ability_score": 3},
        {"sickness_absence_days_12m": 120},
        {"financial_difficulties": True},
        {"substance_use_concern": True},
        {"work_ability_score": 1},
        {"employment_status": "unemployed", "months_unemployed": 6},
        {"months_unemployed": 14},
        {"months_unemployed": 30},
    ]
    changes: dict[str, object] = {}
    records = [booking()]
    for sign in signs:
        changes.update(sign)
        records.append(booking(**changes))
    levels = level_index(
        np.array([a.recommendation.level for a in packaged.explain_records(records)])
    )
    assert (np.diff(levels) >= 0).all(), levels
    assert levels[0] == NONE and levels[-1] == TEAM, levels


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("work_ability_score", [10, 8, 6, 4, 2, 0]),
        ("sickness_absence_days_12m", [0, 30, 90, 180]),
        ("mental_health_concern", [False, True]),
    ],
)
def test_a_worse_sign_rarely_lowers_anyones_level(
    packaged: KykytutkaModel, sample: pd.DataFrame, field: str, values: list[object]
) -> None:
    """Unlike the alert, a multiclass booster has no monotone constraints: measured, not promised
    (the alert floor itself is monotone)."""
    levels = []
    for value in values:
        changed = sample.copy()
        changed[field] = pd.Series([value] * len(sample), index=sample.index).astype(
            sample[field].dtype
        )
        levels.append(level_index(packaged.assess(changed)["recommended_support_level"].to_numpy()))
    by_value = np.column_stack(levels)
    assert (np.diff(by_value, axis=1) < 0).any(axis=1).mean() <= 0.01
    assert by_value[:, -1].mean() > by_value[:, 0].mean()


def test_explanations_add_up_to_the_log_odds_of_the_compared_levels(
    packaged: KykytutkaModel, support: SupportModel, sample: pd.DataFrame
) -> None:
    matrix = records_matrix(sample)
    blocks = support.contributions_blocks(matrix)
    np.testing.assert_allclose(blocks.sum(axis=2), support.raw_scores(matrix), atol=1e-9)
    records = [BookingRecord.model_validate(r).model_dump() for r in _json(sample.head(40))]
    for assessed in packaged.explain_records(records):
        recommendation = assessed.recommendation
        heavier, lighter = contrast(LEVELS.index(recommendation.level))
        assert recommendation.compared == (LEVELS[heavier], LEVELS[lighter])
        p = recommendation.probabilities
        log_odds = np.log(p[LEVELS[heavier].value] / p[LEVELS[lighter].value])
        assert recommendation.log_odds == pytest.approx(log_odds, abs=1e-6)
        total = recommendation.base_value + sum(recommendation.contributions.values())
        assert total == pytest.approx(recommendation.log_odds, abs=1e-9)
        assert sum(p.values()) == pytest.approx(1.0)


def test_a_model_without_a_support_model_is_refused_saying_what_to_do(
    packaged: KykytutkaModel, tmp_path: object
) -> None:
    older = KykytutkaModel.__new__(KykytutkaModel)
    older.__dict__.update({k: v for k, v in packaged.__dict__.items() if k != "support"})
    folder = f"{tmp_path}/older"
    mlflow.pyfunc.save_model(folder, python_model=older, pip_requirements=[])
    with pytest.raises(IncompatibleModel, match="Re-train and register it"):
        load_model(folder)


def _json(frame: pd.DataFrame) -> list[dict[str, object]]:
    from data_contracts.records import as_json_records

    return as_json_records(frame)
