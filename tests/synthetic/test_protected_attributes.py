"""Features that depend on a protected attribute: the sex-specific ICPC-2 chapters (W, X, Y) and the
youth-services referral. They must follow sex and age as in the world, and ``true_risk`` must stay
the exact posterior although their evidence now depends on sex and age."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from synthetic.cohort import generate_cohort
from synthetic.parameters import REGIONS, YOUTH_SERVICES_MAX_AGE

pytestmark = [pytest.mark.data]

ROWS = 200_000
NEW_REFERRERS = ("pension_insurer", "criminal_sanctions", "youth_services", "education")


@pytest.fixture(scope="module", params=sorted(REGIONS))
def cohort(request: pytest.FixtureRequest) -> pd.DataFrame:
    return generate_cohort(request.param, ROWS, seed=31)


def _chapter_cell(frame: pd.DataFrame) -> pd.Series:
    """sex and chapter together, the open chapters as one."""
    chapter = frame["contact_reason"].astype(str)
    chapter = chapter.where(chapter.isin(["W", "X", "Y"]), "open")
    return frame["sex"].astype(str) + "/" + chapter


def test_sex_specific_chapters_follow_sex(cohort: pd.DataFrame) -> None:
    sex = cohort["sex"].astype(str)
    chapter = cohort["contact_reason"].astype(str)
    assert not ((sex == "male") & chapter.isin(["W", "X"])).any(), "a man with chapter W or X"
    assert not ((sex == "female") & (chapter == "Y")).any(), "a woman with chapter Y"
    # documented: clients of sex other or unknown get none of the three
    assert not (sex.isin(["other", "unknown"]) & chapter.isin(["W", "X", "Y"])).any()
    # and each occurs: about 2 % W, 2 % X, 1 % Y of all contacts
    shares = chapter.value_counts(normalize=True)
    for letter, (low, high) in {"W": (0.01, 0.03), "X": (0.01, 0.03), "Y": (0.005, 0.02)}.items():
        assert low <= shares[letter] <= high, (letter, shares[letter])


def test_pregnancy_chapter_is_of_women_of_childbearing_age(cohort: pd.DataFrame) -> None:
    ages = cohort.loc[cohort["contact_reason"] == "W", "age"].astype(int)
    assert ages.max() < 50
    assert (ages < 45).mean() > 0.9


def test_youth_services_refer_only_the_young(cohort: pd.DataFrame) -> None:
    youth = cohort["referral_source"] == "youth_services"
    assert youth.any()
    assert (cohort.loc[youth, "age"] <= YOUTH_SERVICES_MAX_AGE).all()
    young = cohort["age"] <= YOUTH_SERVICES_MAX_AGE
    # modest: youth services are a few per cent of the referrals of the young, not most of them
    assert youth[young].mean() < 0.06


def test_new_referrers_are_rare_and_point_the_documented_way(cohort: pd.DataFrame) -> None:
    need = cohort["needs_support"].astype(bool)
    referral = cohort["referral_source"].astype(str)
    for source in NEW_REFERRERS:
        assert 0 < (referral == source).mean() < 0.02, source
    for source in ("pension_insurer", "criminal_sanctions"):
        referred = referral == source
        assert need[referred].mean() > 2 * need.mean(), source


def _assert_calibrated_within(
    frame: pd.DataFrame, cells: pd.Series, min_rows: int = 2_000, at_least: int = 3
) -> None:
    """In every cell, the mean true_risk is the share who need support (within sampling error)."""
    risk = frame["true_risk"].to_numpy(dtype=float)
    need = frame["needs_support"].to_numpy(dtype=float)
    checked = 0
    for cell, rows in pd.Series(np.arange(len(frame))).groupby(cells.to_numpy()):
        if len(rows) < min_rows:
            continue
        index = rows.to_numpy()
        predicted, observed = risk[index].mean(), need[index].mean()
        error = np.sqrt(np.sum(risk[index] * (1 - risk[index]))) / len(index)
        assert abs(predicted - observed) < 4 * error + 0.002, (cell, predicted, observed)
        checked += 1
    assert checked >= at_least, f"only {checked} cells large enough to check"


def test_true_risk_is_calibrated_within_sex_and_chapter(cohort: pd.DataFrame) -> None:
    _assert_calibrated_within(cohort, _chapter_cell(cohort), min_rows=1_500, at_least=5)
    young = np.where(cohort["age"] <= YOUTH_SERVICES_MAX_AGE, "young", "older")
    referral = cohort["referral_source"].astype(str).to_numpy()
    _assert_calibrated_within(cohort, pd.Series(np.char.add(young, referral)), min_rows=1_000)


def test_true_risk_stays_the_exact_posterior_when_chapter_and_referral_tell_a_lot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With shares that differ hugely between the classes within sex and age (and a prevalence of
    30 %), weighing the chapter or referral evidence without its condition would miscalibrate the
    cells by several points; the exact evidence keeps every cell calibrated."""
    region = REGIONS["pirkanmaa"]
    need = replace(
        region.need,
        share_men=0.25,
        age_mean=33.0,
        age_sd=10.0,
        pregnancy=0.02,
        female_genital=0.01,
        male_genital=0.25,
        youth_services=0.50,
    )
    other = replace(
        region.other,
        share_men=0.60,
        pregnancy=0.30,
        female_genital=0.20,
        male_genital=0.02,
        youth_services=0.05,
    )
    strong = replace(region, prevalence=0.30, need=need, other=other)
    monkeypatch.setitem(REGIONS, "pirkanmaa", strong)
    frame = generate_cohort("pirkanmaa", 150_000, seed=8)
    _assert_calibrated_within(frame, _chapter_cell(frame), at_least=5)
    young = frame["age"] <= YOUTH_SERVICES_MAX_AGE
    youth = frame["referral_source"] == "youth_services"
    cells = young.map({True: "young", False: "older"}) + youth.map({True: "/youth", False: ""})
    _assert_calibrated_within(frame, cells.astype(str))
    # and in risk deciles within women with chapter W, where the condition matters most
    women_w = _chapter_cell(frame) == "female/W"
    deciles = pd.qcut(frame.loc[women_w, "true_risk"].astype(float), 5, labels=False)
    _assert_calibrated_within(frame[women_w], deciles.astype(str), min_rows=500, at_least=5)
