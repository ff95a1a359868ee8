"""The proxy audit: how well model inputs stand for sex, age band and first language.

On the synthetic cohorts, where the ICPC-2 chapters W and X are only women's and Y only men's, the
folded reason for contact must pass the limits and the recorded (unfolded) chapter must not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.transformers import BookingFeatures
from models.alert import BOOSTER_FEATURES, booster_frame
from models.config import ConfigError, ProxyLimits, load_yaml_model
from models.proxy import (
    COLUMNS,
    JOINT,
    audit_features,
    protected_groups,
    proxy_audit,
    proxy_breaches,
)
from synthetic.cohort import generate_cohort

pytestmark = [pytest.mark.model, pytest.mark.slow]

ATTRIBUTES = {"sex", "age_band", "first_language"}
LIMITS = ProxyLimits()


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    """Both regions, as training draws them: 200,000 bookings."""
    return pd.concat(
        [
            generate_cohort(region, 100_000, seed=2024)
            for region in ("pirkanmaa", "etela-pohjanmaa")
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def table(records: pd.DataFrame) -> pd.DataFrame:
    return proxy_audit(records)


def _row(table: pd.DataFrame, feature: str, attribute: str) -> pd.Series:
    found = table[(table["feature"] == feature) & (table["attribute"] == attribute)]
    assert len(found) == 1, (feature, attribute)
    return found.iloc[0]


def test_one_row_per_feature_and_attribute_plus_the_joint_row(table: pd.DataFrame) -> None:
    assert tuple(table.columns) == COLUMNS
    assert set(table["attribute"]) == ATTRIBUTES
    for _, rows in table.groupby("attribute"):
        assert list(rows["feature"]) == [*BOOSTER_FEATURES, JOINT]
    assert table["auc"].between(0, 1).all()
    assert table["mutual_information"].between(0, 1).all()
    assert (table["n"] >= 200).all()
    assert (table["auc_noise"] > 0).all()


def test_todays_model_features_pass_the_limits(table: pd.DataFrame) -> None:
    assert proxy_breaches(table, LIMITS) == []


def test_the_fold_keeps_the_reason_for_contact_under_the_limits(
    records: pd.DataFrame, table: pd.DataFrame
) -> None:
    folded = _row(table, "contact_reason", "sex")
    assert folded["auc"] < LIMITS.max_feature_auc
    assert folded["mutual_information"] < LIMITS.max_feature_mutual_information


def test_the_recorded_chapter_would_be_a_proxy_for_sex(
    records: pd.DataFrame, table: pd.DataFrame
) -> None:
    raw = audit_features(records[["contact_reason"]], protected_groups(records))
    chapter = _row(raw, "contact_reason", "sex")
    folded = _row(table, "contact_reason", "sex")
    assert chapter["mutual_information"] > 3 * folded["mutual_information"]
    assert chapter["auc"] > folded["auc"] + 0.01
    breaches = proxy_breaches(raw, LIMITS)
    assert any("contact_reason" in b and "proxy for sex" in b for b in breaches), breaches


def test_a_planted_copy_of_sex_is_caught(records: pd.DataFrame) -> None:
    sample = records.sample(20_000, random_state=1)
    features = booster_frame(BookingFeatures().fit(sample).transform(sample))
    features["planted"] = sample["sex"].astype(str).to_numpy()  # a feature that copies sex
    found = audit_features(features, protected_groups(sample))
    assert _row(found, "planted", "sex")["auc"] > 0.99
    assert _row(found, JOINT, "sex")["auc"] > 0.99
    breaches = proxy_breaches(found, LIMITS)
    assert any(b.startswith("model feature planted:") and "sex" in b for b in breaches)
    assert any(b.startswith("all model features together:") and "sex" in b for b in breaches)
    assert not any("planted" in b and "age_band" in b for b in breaches)


def test_groups_under_the_minimum_size_are_skipped() -> None:
    rng = np.random.default_rng(0)
    size = 10_000
    tiny = np.zeros(size, dtype=bool)
    tiny[:150] = True
    groups = pd.DataFrame(
        {
            # a, b and a tiny c that the feature tells perfectly: c must not be measured
            "three": np.where(tiny, "c", np.where(rng.random(size) < 0.5, "a", "b")),
            # only one group is large enough: nothing to tell apart, no rows
            "lopsided": np.where(tiny, "small", "large"),
        }
    )
    features = pd.DataFrame({"tells_c": tiny.astype(float), "noise": rng.normal(size=size)})
    found = audit_features(features, groups)
    assert set(found["attribute"]) == {"three"}
    assert set(found["group"]) <= {"a", "b"}
    assert found["auc"].max() < 0.55
    assert proxy_breaches(found, LIMITS) == []


def test_breaches_name_feature_attribute_group_and_auc() -> None:
    table = pd.DataFrame(
        [
            ("referral_source", "age_band", "under 30", 0.600, 0.01, 17_000, 0.002),
            # above the limit, but within chance for a group of 200
            ("client_group", "first_language", "sv", 0.560, 0.001, 200, 0.020),
            # a rare but telling value: a small AUC, much information
            ("contact_reason", "sex", "female", 0.539, 0.040, 108_000, 0.001),
            (JOINT, "sex", "male", 0.700, 0.05, 90_000, 0.002),
        ],
        columns=list(COLUMNS),
    )
    breaches = proxy_breaches(table, LIMITS)
    assert len(breaches) == 3
    first, information, joint = breaches
    for text in ("referral_source", "age_band", "'under 30'", "0.600", "0.540"):
        assert text in first
    assert "contact_reason" in information and "4.0%" in information
    assert joint.startswith("all model features together") and "0.700" in joint


def test_proxy_limits_load_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "proxy.yaml"
    path.write_text("max_feature_auc: 0.55\nmax_joint_auc: 0.6\n", encoding="utf-8")
    assert load_yaml_model(path, ProxyLimits).max_feature_auc == 0.55
    path.write_text("max_feature_auc: 0.4\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_feature_auc"):
        load_yaml_model(path, ProxyLimits)
