"""Quality and fairness measures on small cases whose answers can be worked out by hand."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features.groups import AGE_BANDS, age_band, fairness_groups
from models.evaluation import (
    FairnessReport,
    capacity_threshold,
    classification_metrics,
    expected_calibration_error,
    fairness_report,
    rates_by_group,
    top_share_precision_recall,
    widest_gap,
)
from synthetic.cohort import generate_cohort

pytestmark = [pytest.mark.code]

# -- expected_calibration_error ----------------------------------------------------------------------


def test_calibration_error_is_zero_when_every_bin_is_perfectly_calibrated() -> None:
    # Ten equal-count bins of ten bookings; bin i has probability i/10 and exactly i positives.
    probability = np.repeat(np.arange(10) / 10, 10)
    y = np.concatenate([np.arange(10) < i for i in range(10)])
    assert expected_calibration_error(y, probability, bins=10) == pytest.approx(0.0, abs=1e-12)


def test_calibration_error_weights_each_bins_gap_by_its_size() -> None:
    # Bin 1: probability 0.2, observed 0 -> gap 0.2. Bin 2: probability 0.6, observed 1 -> gap 0.4.
    probability = np.array([0.2, 0.2, 0.2, 0.2, 0.6, 0.6, 0.6, 0.6])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=bool)
    assert expected_calibration_error(y, probability, bins=2) == pytest.approx(0.3)


def test_calibration_error_with_unequal_bins_uses_bin_sizes() -> None:
    # Ten bookings in three bins of 4, 3 and 3: gaps 0.1, 0.5 and 0.0.
    probability = np.array([0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0])
    y = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1], dtype=bool)
    expected = (4 * 0.1 + 3 * 0.5 + 3 * 0.0) / 10
    assert expected_calibration_error(y, probability, bins=3) == pytest.approx(expected)


def test_calibration_error_of_a_constant_overconfident_score() -> None:
    probability = np.full(100, 0.8)
    y = np.arange(100) % 2 == 0  # observed rate 0.5 in every bin
    assert expected_calibration_error(y, probability) == pytest.approx(0.3)


# -- capacity_threshold ------------------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [0.05, 0.10, 0.25])
def test_alerting_at_the_capacity_threshold_flags_about_that_share(capacity: float) -> None:
    scores = np.random.default_rng(7).random(10_000)
    threshold = capacity_threshold(scores, capacity)
    assert abs((scores >= threshold).mean() - capacity) <= 1 / len(scores)


def test_capacity_threshold_is_one_of_the_scores() -> None:
    scores = np.random.default_rng(8).normal(size=999)
    assert capacity_threshold(scores, 0.1) in scores


@pytest.mark.parametrize("capacity", [0, 1, -0.1, 1.5])
def test_capacity_outside_the_open_unit_interval_is_refused(capacity: float) -> None:
    with pytest.raises(ValueError, match=rf"got {re.escape(str(capacity))}$"):
        capacity_threshold(np.linspace(0, 1, 50), capacity)


# -- top_share_precision_recall ----------------------------------------------------------------------

SMALL_Y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0], dtype=bool)
SMALL_SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])


@pytest.mark.parametrize(
    ("share", "precision", "recall"),
    [
        (0.3, 2 / 3, 2 / 3),  # top 3: bookings 0, 1, 2 -> two of the three positives
        (0.5, 2 / 5, 2 / 3),  # top 5: still two positives
        (0.6, 3 / 6, 3 / 3),  # top 6 reaches the third positive
        (0.01, 1.0, 1 / 3),  # rounds to no booking: at least one is alerted
    ],
)
def test_precision_and_recall_at_a_share_on_a_small_array(
    share: float, precision: float, recall: float
) -> None:
    assert top_share_precision_recall(SMALL_Y, SMALL_SCORES, share) == pytest.approx(
        (precision, recall)
    )


def test_recall_is_zero_and_defined_when_nobody_needs_support() -> None:
    y = np.zeros(10, dtype=bool)
    assert top_share_precision_recall(y, SMALL_SCORES, 0.3) == (0.0, 0.0)


def _coarse_case(positives_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """10,000 bookings, half with a 0/1 score of 1; 30 % of those (and 2 % of the rest) positive.

    Positives sit at the start (or end) of the score-1 bookings, so that breaking ties by position
    would give precision 1.0 (or 0.0) instead of the ones' positive rate 0.3.
    """
    n, ones = 10_000, 5_000
    scores = (np.arange(n) < ones).astype(float)
    y = np.zeros(n, dtype=bool)
    if positives_first:
        y[:1_500] = True
    else:
        y[ones - 1_500 : ones] = True
    y[ones : ones + 100] = True
    return y, scores


def test_ties_in_a_coarse_score_are_broken_reproducibly() -> None:
    y, scores = _coarse_case(positives_first=True)
    assert top_share_precision_recall(y, scores, 0.1) == top_share_precision_recall(y, scores, 0.1)


@pytest.mark.parametrize("positives_first", [True, False])
def test_ties_do_not_favour_a_coarse_score_by_row_order(positives_first: bool) -> None:
    y, scores = _coarse_case(positives_first)
    precision, recall = top_share_precision_recall(y, scores, 0.1)
    ones_positive_rate = y[scores == 1].mean()  # 0.3
    assert precision == pytest.approx(ones_positive_rate, abs=0.05)
    assert recall == pytest.approx(precision * 1_000 / y.sum())


def test_coarse_score_precision_equals_the_ones_positive_rate_on_average() -> None:
    n, share = 2_000, 0.1
    scores = (np.arange(n) < n // 2).astype(float)
    precisions, rates = [], []
    for seed in range(1, 31):  # (seed 0 would reuse the tie-breaking jitter stream itself)
        y = np.random.default_rng(seed).random(n) < np.where(scores == 1, 0.3, 0.05)
        precisions.append(top_share_precision_recall(y, scores, share)[0])
        rates.append(y[scores == 1].mean())
    assert np.mean(precisions) == pytest.approx(np.mean(rates), abs=0.02)


# -- classification_metrics --------------------------------------------------------------------------

BASE_KEYS = {
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "prevalence",
    "precision_at_5pct",
    "recall_at_5pct",
    "precision_at_10pct",
    "recall_at_10pct",
}
TRUE_RISK_KEYS = {"true_risk_roc_auc", "roc_auc_gap_to_true_risk", "true_risk_pr_auc"}


def _scored_bookings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    true_risk = rng.beta(1, 12, size=5_000)
    y = rng.random(5_000) < true_risk
    noisy = np.clip(true_risk + rng.normal(0, 0.05, size=5_000), 0, 1)
    return y, noisy, true_risk


def test_classification_metrics_without_true_risk_has_only_the_base_keys() -> None:
    y, probability, _ = _scored_bookings()
    assert set(classification_metrics(y, probability)) == BASE_KEYS


def test_classification_metrics_with_true_risk_adds_the_true_risk_keys() -> None:
    y, probability, true_risk = _scored_bookings()
    assert set(classification_metrics(y, probability, true_risk)) == BASE_KEYS | TRUE_RISK_KEYS


def test_gap_to_true_risk_is_true_risk_auc_minus_model_auc() -> None:
    y, probability, true_risk = _scored_bookings()
    metrics = classification_metrics(y, probability, true_risk)
    assert metrics["roc_auc_gap_to_true_risk"] == pytest.approx(
        metrics["true_risk_roc_auc"] - metrics["roc_auc"]
    )
    assert metrics["roc_auc_gap_to_true_risk"] > 0  # the noisy score is worse than the truth


def test_a_perfect_score_has_roc_auc_one_and_full_precision_at_capacity() -> None:
    y = np.arange(100) < 20
    probability = np.where(y, 0.9, 0.1)
    metrics = classification_metrics(y, probability)
    assert metrics["roc_auc"] == 1.0
    assert metrics["pr_auc"] == pytest.approx(1.0)
    assert metrics["prevalence"] == pytest.approx(0.2)
    assert metrics["brier"] == pytest.approx(0.01)
    assert metrics["precision_at_5pct"] == 1.0
    assert metrics["recall_at_5pct"] == pytest.approx(5 / 20)
    assert metrics["precision_at_10pct"] == 1.0
    assert metrics["recall_at_10pct"] == pytest.approx(10 / 20)


def test_capacity_labels_follow_the_capacities_given() -> None:
    y, probability, _ = _scored_bookings()
    metrics = classification_metrics(y, probability, capacities=(0.02, 0.2))
    assert {"precision_at_2pct", "recall_at_2pct", "precision_at_20pct", "recall_at_20pct"} <= set(
        metrics
    )
    assert "precision_at_10pct" not in metrics


# -- fairness_report ---------------------------------------------------------------------------------


def _group_block(
    group: str, n: int, positives: int, true_alerts: int, false_alerts: int
) -> pd.DataFrame:
    """``n`` bookings of one group: ``positives`` need support, of whom ``true_alerts`` are alerted;
    ``false_alerts`` of the others are alerted too."""
    y = np.arange(n) < positives
    alert = (np.arange(n) < true_alerts) | (
        (np.arange(n) >= positives) & (np.arange(n) < positives + false_alerts)
    )
    return pd.DataFrame({"y": y, "alert": alert, "group": group})


def _report(blocks: list[pd.DataFrame], **limits: float) -> FairnessReport:
    frame = pd.concat(blocks, ignore_index=True)
    options = {"max_tpr_difference": 0.2, "max_fpr_difference": 0.1, **limits}
    return fairness_report(
        frame["y"].to_numpy(),
        frame["alert"].to_numpy(),
        frame[["group"]].rename(columns={"group": "first_language"}),
        **options,
    )


def _difference(report: FairnessReport, metric: str) -> pd.Series:
    rows = report.differences
    return rows[rows["metric"] == metric].iloc[0]


def test_a_true_positive_rate_gap_over_the_limit_fails_and_is_named() -> None:
    report = _report(
        [
            _group_block("fi", 1_000, positives=500, true_alerts=450, false_alerts=50),  # TPR 0.9
            _group_block("sv", 1_000, positives=500, true_alerts=250, false_alerts=50),  # TPR 0.5
        ]
    )
    assert report.passed is False
    tpr = _difference(report, "true_positive_rate")
    assert tpr["difference"] == pytest.approx(0.4)
    assert not tpr["passed"]
    assert _difference(report, "false_positive_rate")["passed"]
    breaches = report.breaches()
    assert len(breaches) == 1
    assert "first_language" in breaches[0]
    assert "true_positive_rate" in breaches[0]
    assert "0.400" in breaches[0]


def test_a_false_positive_rate_gap_over_the_limit_fails() -> None:
    report = _report(
        [
            _group_block("fi", 1_000, positives=500, true_alerts=400, false_alerts=50),  # FPR 0.1
            _group_block("sv", 1_000, positives=500, true_alerts=400, false_alerts=150),  # FPR 0.3
        ]
    )
    assert report.passed is False
    assert _difference(report, "false_positive_rate")["difference"] == pytest.approx(0.2)
    assert [b for b in report.breaches() if "false_positive_rate" in b]


def test_equal_rates_pass_with_no_breaches() -> None:
    report = _report(
        [
            _group_block("fi", 1_000, positives=500, true_alerts=400, false_alerts=50),
            _group_block("sv", 600, positives=300, true_alerts=240, false_alerts=30),
        ]
    )
    assert report.passed is True
    assert report.breaches() == []
    assert report.differences["difference"].to_numpy() == pytest.approx(0.0, abs=1e-12)


def test_table_lists_every_group_with_its_rates() -> None:
    report = _report(
        [
            _group_block("fi", 1_000, positives=500, true_alerts=450, false_alerts=50),
            _group_block("sv", 400, positives=100, true_alerts=50, false_alerts=30),
        ]
    )
    table = report.table.set_index("group")
    assert set(table["attribute"]) == {"first_language"}
    assert table.loc["fi", "n"] == 1_000
    assert table.loc["sv", "n"] == 400
    assert table.loc["fi", "true_positive_rate"] == pytest.approx(0.9)
    assert table.loc["sv", "true_positive_rate"] == pytest.approx(0.5)
    assert table.loc["fi", "false_positive_rate"] == pytest.approx(0.1)
    assert table.loc["sv", "false_positive_rate"] == pytest.approx(0.1)
    assert table.loc["fi", "alert_rate"] == pytest.approx(0.5)
    assert table.loc["sv", "alert_rate"] == pytest.approx(80 / 400)


def test_groups_below_the_minimum_size_are_shown_but_not_compared() -> None:
    report = _report(
        [
            _group_block("fi", 1_000, positives=500, true_alerts=450, false_alerts=50),
            _group_block("sv", 1_000, positives=500, true_alerts=450, false_alerts=50),
            _group_block("other", 50, positives=25, true_alerts=0, false_alerts=25),  # TPR 0, FPR 1
        ],
        min_group_size=200,
    )
    table = report.table.set_index("group")
    assert table.loc["other", "n"] == 50
    assert table.loc["other", "true_positive_rate"] == 0.0
    assert report.passed is True
    assert report.differences["difference"].to_numpy() == pytest.approx(0.0, abs=1e-12)


def test_a_small_group_counts_once_it_reaches_the_minimum_size() -> None:
    blocks = [
        _group_block("fi", 1_000, positives=500, true_alerts=450, false_alerts=50),
        _group_block("other", 50, positives=25, true_alerts=0, false_alerts=5),
    ]
    assert _report(blocks, min_group_size=50, min_group_positives=25).passed is False
    assert _report(blocks, min_group_size=51, min_group_positives=25).passed is True


def test_a_true_positive_rate_needs_enough_positives_to_be_compared() -> None:
    # TPR 0.9 against 0.0, but the second group has only 25 clients who needed support: too few.
    blocks = [
        _group_block("fi", 1_000, positives=500, true_alerts=450, false_alerts=50),
        _group_block("other", 500, positives=25, true_alerts=0, false_alerts=48),
    ]
    assert _report(blocks, min_group_positives=26).passed is True
    failed = _report(blocks, min_group_positives=25)
    assert failed.passed is False
    assert any("true_positive_rate" in breach for breach in failed.breaches())


def test_alert_rate_differences_are_reported_but_never_fail() -> None:
    # Same TPR (0.8) and FPR (0.1) in both groups, very different need: alert rates 0.45 and 0.135.
    report = _report(
        [
            _group_block("fi", 1_000, positives=500, true_alerts=400, false_alerts=50),
            _group_block("sv", 1_000, positives=50, true_alerts=40, false_alerts=95),
        ]
    )
    alert_rate = _difference(report, "alert_rate")
    assert alert_rate["difference"] == pytest.approx(0.45 - 0.135)
    assert np.isnan(alert_rate["limit"])
    assert alert_rate["passed"]
    assert report.passed is True
    assert report.breaches() == []


def test_every_attribute_gets_its_own_differences() -> None:
    frame = pd.concat(
        [
            _group_block("fi", 1_000, positives=500, true_alerts=450, false_alerts=50),
            _group_block("sv", 1_000, positives=500, true_alerts=250, false_alerts=50),
        ],
        ignore_index=True,
    )
    groups = pd.DataFrame(
        {
            "first_language": frame["group"],
            "sex": np.where(np.arange(len(frame)) % 2 == 0, "female", "male"),
        }
    )
    report = fairness_report(frame["y"], frame["alert"], groups, 0.2, 0.1)
    assert set(report.differences["attribute"]) == {"first_language", "sex"}
    assert len(report.differences) == 2 * 3
    assert set(report.table["attribute"]) == {"first_language", "sex"}
    breaches = report.breaches()
    assert len(breaches) == 1
    assert "first_language" in breaches[0]


# -- the fairness groups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (18, "under 30"),
        (29, "under 30"),
        (30, "30-39"),
        (39, "30-39"),
        (40, "40-49"),
        (49, "40-49"),
        (50, "50-59"),
        (59, "50-59"),
        (60, "60+"),
        (68, "60+"),
    ],
)
def test_age_band_edges(age: int, band: str) -> None:
    assert list(age_band(pd.Series([age], dtype="Int64"))) == [band]


def test_missing_or_unreadable_age_has_no_band() -> None:
    bands = age_band(pd.Series([pd.NA, 45], dtype="Int64"))
    assert pd.isna(bands[0])
    assert bands[1] == "40-49"
    assert pd.isna(age_band(pd.Series(["not an age", None], dtype=object))).all()


def test_age_bands_are_ordered_categories() -> None:
    bands = age_band(pd.Series([61, 25], dtype="Int64"))
    assert list(bands.categories) == list(AGE_BANDS)
    assert bands.ordered
    assert bands.codes[1] < bands.codes[0]


def test_fairness_groups_of_a_generated_cohort() -> None:
    frame = generate_cohort("pirkanmaa", 2_000, seed=4)
    groups = fairness_groups(frame)
    assert list(groups.columns) == ["age_band", "sex", "first_language", "region"]
    assert groups.index.equals(frame.index)
    assert all(groups[column].map(type).eq(str).all() for column in groups.columns)
    assert set(groups["age_band"]) <= set(AGE_BANDS)
    assert len(set(groups["age_band"])) > 1
    assert set(groups["sex"]) == set(frame["sex"].astype(str))
    assert set(groups["first_language"]) == set(frame["first_language"].astype(str))
    assert set(groups["region"]) == {"pirkanmaa"}
    ages = frame["age"].to_numpy(dtype=float)
    assert (groups["age_band"][ages < 30] == "under 30").all()
    assert (groups["age_band"][ages >= 60] == "60+").all()


def test_rates_by_group_agree_with_fairlearns_metric_frame() -> None:
    from fairlearn.metrics import MetricFrame, selection_rate

    rng = np.random.default_rng(3)
    y = rng.random(5_000) < 0.1
    alert = rng.random(5_000) < np.where(y, 0.6, 0.08)
    group = rng.choice(np.array(["a", "b", "c", "tiny"]), 5_000, p=[0.5, 0.3, 0.199, 0.001])
    y[group == "tiny"] = False  # a group with no positives: its TPR is undefined

    def tpr(t: np.ndarray, p: np.ndarray) -> float:
        return float(p[t].mean()) if t.any() else np.nan

    def fpr(t: np.ndarray, p: np.ndarray) -> float:
        return float(p[~t].mean()) if (~t).any() else np.nan

    oracle = MetricFrame(
        metrics={
            "alert_rate": selection_rate,
            "true_positive_rate": tpr,
            "false_positive_rate": fpr,
        },
        y_true=y,
        y_pred=alert,
        sensitive_features=group,
    ).by_group
    ours = rates_by_group(y, alert, group).set_index("group")
    for metric in ("alert_rate", "true_positive_rate", "false_positive_rate"):
        np.testing.assert_allclose(ours[metric].to_numpy(float), oracle[metric].to_numpy(float))
    assert ours.loc["tiny", "positives"] == 0 and np.isnan(ours.loc["tiny", "true_positive_rate"])


def test_every_pair_of_groups_is_tested_not_only_the_extremes() -> None:
    # Two small, noisy groups span the widest gap (not significant); two large groups differ by
    # less, but surely: that real gap must not hide behind the noisy one.
    names = ["small-low", "large-low", "large-high", "small-high"]
    values = np.array([0.00, 0.08, 0.12, 0.20])
    variances = np.array([0.01, 1e-5, 1e-5, 0.01])
    gap = widest_gap(names, values, variances, limit=0.03, min_z=3.0)
    assert not gap.passed
    assert (gap.high, gap.low) == ("large-high", "large-low")
    assert gap.z > 3
    quiet = widest_gap(names, values, variances * 1e4, limit=0.03, min_z=3.0)
    assert quiet.passed and (quiet.high, quiet.low) == ("small-high", "small-low")
