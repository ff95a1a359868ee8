"""The segmentation model on generated cohorts: its segments, their ids, and what assigns them.

One model is fitted for the whole module (candidates 3-5 on 5,000 sampled rows), plus one retrain
with the same configuration on another cohort and a few cheap single-count refits: seconds, not
minutes. k-means runs on one thread here: on a small shared machine, OpenMP threads contending for
the cores made each fit several times slower.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from data_contracts.booking import SupportLevel
from features.transformers import BookingFeatures
from models.segmentation import SegmentationModel, segment_matrix
from models.services import SERVICE_STEPS
from synthetic.cohort import generate_cohort
from training.naming import name_and_path
from training.segmentation import describe_segments, fit_segmentation

pytestmark = [pytest.mark.model, pytest.mark.slow]

CANDIDATES = (3, 4, 5)
SAMPLE_ROWS = 5_000
REFITS = 3
FIT_SEED = 0


def _bookings(seed: int) -> pd.DataFrame:
    return pd.concat(
        [
            generate_cohort("pirkanmaa", 30_000, seed),
            generate_cohort("etela-pohjanmaa", 15_000, seed),
        ],
        ignore_index=True,
    )


def _needs_support(records: pd.DataFrame) -> np.ndarray:
    return records["needs_support"].to_numpy(dtype=bool)


def _fit(
    records: pd.DataFrame,
    candidates: tuple[int, ...] = CANDIDATES,
    reference: pd.DataFrame | None = None,
) -> SegmentationModel:
    return fit_segmentation(
        records,
        _needs_support(records),
        records["support_level"].astype(object),
        candidates=candidates,
        sample_rows=SAMPLE_ROWS,
        refits=REFITS,
        seed=FIT_SEED,
        reference=reference,
    )


@pytest.fixture(scope="module", autouse=True)
def _single_threaded() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return _bookings(seed=1)


@pytest.fixture(scope="module")
def model(records: pd.DataFrame) -> SegmentationModel:
    return _fit(records)


@pytest.fixture(scope="module")
def assigned(model: SegmentationModel, records: pd.DataFrame) -> np.ndarray:
    return model.assign(records)


@pytest.fixture(scope="module")
def retrain_records() -> pd.DataFrame:
    """Similar data a month later: the same regions and sizes, another generator seed."""
    return _bookings(seed=2)


# -- the segments ------------------------------------------------------------------------------------


def test_every_segment_is_named_levelled_and_has_a_service_path(model: SegmentationModel) -> None:
    for segment_id, segment in model.segments.items():
        assert segment.id == segment_id
        assert segment.id.strip()
        assert segment.name_fi.strip()
        assert segment.name_en.strip()
        assert segment.support_level in set(SupportLevel)
        assert segment.service_path
        assert all(step.strip() for step in segment.service_path)
        assert 0 < segment.share <= 1
        assert 0 <= segment.need_rate <= 1


def test_segment_shares_sum_to_one(model: SegmentationModel) -> None:
    assert sum(segment.share for segment in model.segments.values()) == pytest.approx(1.0)


def test_segment_shares_and_need_rates_match_the_assignment(
    model: SegmentationModel, records: pd.DataFrame, assigned: np.ndarray
) -> None:
    y = _needs_support(records)
    assert set(assigned) == set(model.segments)
    for segment_id, segment in model.segments.items():
        members = assigned == segment_id
        assert segment.share == pytest.approx(members.mean())
        assert segment.need_rate == pytest.approx(y[members].mean())


def test_segment_names_are_unique(model: SegmentationModel) -> None:
    names_en = [segment.name_en for segment in model.segments.values()]
    names_fi = [segment.name_fi for segment in model.segments.values()]
    assert len(set(names_en)) == len(names_en)
    assert len(set(names_fi)) == len(names_fi)


def test_profile_table_has_one_row_per_segment(model: SegmentationModel) -> None:
    table = model.profile_table()
    assert list(table["segment_id"]) == list(model.segments)
    assert {"name_fi", "name_en", "share", "need_rate", "support_level", "mean_age"} <= set(
        table.columns
    )


# -- choosing the number of segments -----------------------------------------------------------------


def test_chosen_segment_count_is_a_candidate_and_marked_once(model: SegmentationModel) -> None:
    selection = model.selection
    assert {"k", "silhouette", "stability_ari", "chosen"} <= set(selection.columns)
    assert list(selection["k"]) == list(CANDIDATES)
    assert selection["chosen"].sum() == 1
    k = int(selection.loc[selection["chosen"], "k"].iloc[0])
    assert k in CANDIDATES
    assert len(model.segments) == k
    assert len(model.ids) == k
    assert len(set(model.ids)) == k
    assert selection["silhouette"].between(-1, 1).all()
    assert selection["stability_ari"].between(-1, 1).all()


# -- ids -----------------------------------------------------------------------------------------------


def test_first_model_numbers_segments_by_need_rate(model: SegmentationModel) -> None:
    k = len(model.segments)
    assert sorted(model.ids, key=lambda s: int(s[1:])) == [f"S{i}" for i in range(1, k + 1)]
    need_rates = [model.segments[f"S{i}"].need_rate for i in range(1, k + 1)]
    assert need_rates == sorted(need_rates, reverse=True)
    assert need_rates[0] > need_rates[-1]


def _agreement(first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    return float((first == second).mean()), float(adjusted_rand_score(first, second))


def test_ids_are_stable_between_retrains_on_similar_data(
    model: SegmentationModel,
    records: pd.DataFrame,
    assigned: np.ndarray,
    retrain_records: pd.DataFrame,
) -> None:
    """A retrain with the same configuration on a new month of similar bookings, aligned to the
    champion's centroids, must give (nearly) every booking the id the champion gave it."""
    retrained = _fit(retrain_records, reference=model.centroids)
    same_id, ari = _agreement(assigned, retrained.assign(records))
    context = (
        f"champion ids {model.ids}, retrained ids {retrained.ids}; same id {same_id:.3f}, "
        f"ARI {ari:.3f}\nchampion selection:\n{model.selection}\n"
        f"retrained selection:\n{retrained.selection}"
    )
    assert same_id >= 0.9, context
    assert ari >= 0.85, context


def test_ids_follow_the_reference_centroids_when_the_count_is_the_same(
    model: SegmentationModel,
    records: pd.DataFrame,
    assigned: np.ndarray,
    retrain_records: pd.DataFrame,
) -> None:
    """The alignment itself (Hungarian matching to the champion's centroids), with k held fixed."""
    k = len(model.segments)
    retrained = _fit(retrain_records, candidates=(k,), reference=model.centroids)
    assert sorted(retrained.ids) == sorted(model.ids)
    same_id, ari = _agreement(assigned, retrained.assign(records))
    assert same_id >= 0.9
    assert ari >= 0.85


def test_new_segments_are_numbered_after_the_reference_ids(
    model: SegmentationModel, records: pd.DataFrame
) -> None:
    """A champion without S2 (an earlier retrain retired it) and a retrain with one more segment:
    the extra segment must get a fresh id after the champion's, not the retired S2, whose old
    meaning it need not share ("numbered by need rate ... after existing ids", _stable_ids)."""
    k = len(model.segments)
    champion = model.centroids.drop(index="S2")
    retrained = _fit(records, candidates=(k,), reference=champion)
    new_ids = sorted(set(retrained.ids) - set(champion.index))
    assert set(champion.index) <= set(retrained.ids)
    assert new_ids == [f"S{k + 1}"], (
        f"new segment got {new_ids}; the champion had {sorted(champion.index)}"
    )


def test_centroids_are_indexed_by_segment_id(model: SegmentationModel) -> None:
    centroids = model.centroids
    assert list(centroids.index) == model.ids
    assert centroids.shape == (len(model.ids), len(centroids.columns))
    assert np.isfinite(centroids.to_numpy()).all()


# -- what assigns a segment ----------------------------------------------------------------------------


def test_assignment_ignores_protected_attributes_and_identifiers(
    model: SegmentationModel, records: pd.DataFrame, assigned: np.ndarray
) -> None:
    n = len(records)
    changed = records.assign(
        sex=pd.Categorical(np.full(n, "other"), dtype=records["sex"].dtype),
        first_language=pd.Categorical(np.full(n, "other"), dtype=records["first_language"].dtype),
        region=pd.Categorical(np.full(n, "lappi"), dtype=records["region"].dtype),
        age=pd.array(np.where(records["age"].to_numpy(dtype=float) < 40, 67, 18), dtype="Int64"),
        client_ref=pd.array([f"changed-{i:010d}" for i in range(n)], dtype="string"),
        booking_id=pd.array([f"other-{i:010d}" for i in range(n)], dtype="string"),
    )
    assert (changed["sex"] != records["sex"]).mean() > 0.9
    assert (changed["age"] != records["age"]).all()
    np.testing.assert_array_equal(model.assign(changed), assigned)


def test_age_describes_segments_without_defining_them(
    model: SegmentationModel, records: pd.DataFrame, assigned: np.ndarray
) -> None:
    ages = records["age"].to_numpy(dtype=float)
    for segment_id, segment in model.segments.items():
        assert segment.profile["mean_age"] == pytest.approx(
            np.nanmean(ages[assigned == segment_id]), abs=1e-3
        )


# -- support levels --------------------------------------------------------------------------------


def test_segments_with_below_average_need_recommend_self_care(
    model: SegmentationModel, records: pd.DataFrame
) -> None:
    overall_need = _needs_support(records).mean()
    below = [s for s in model.segments.values() if s.need_rate < overall_need]
    assert below, "expected at least one segment with below-average need"
    assert {s.support_level for s in below} == {"self_care"}


def test_a_needy_segment_recommends_the_level_confirmed_most_often_for_it() -> None:
    """Two hand-made segments: S1 (3 of 4 need support: team, team, consultation) and S2 (1 of 4:
    consultation). S1 is above the overall need (4 of 8) and gets team; S2 is below and gets
    self-care, whatever its one confirmed level was."""
    records = _bookings(0).head(8)
    features = BookingFeatures().fit(records).transform(records)
    assigned = np.array(["S1"] * 4 + ["S2"] * 4, dtype=object)
    y = np.array([True, True, True, False, True, False, False, False])
    levels = np.array(
        ["team", "team", "consultation", None, "consultation", None, None, None], dtype=object
    )
    segments = describe_segments(features, np.full(8, 40.0), assigned, y, levels)
    assert segments["S1"].support_level is SupportLevel.TEAM
    assert segments["S2"].support_level is SupportLevel.SELF_CARE
    assert segments["S1"].need_rate == 0.75


def test_integer_labels_give_the_same_segments_as_boolean_labels(
    model: SegmentationModel, records: pd.DataFrame
) -> None:
    """needs_support as 0/1 integers (as many pipelines hold labels) must not change the profiles."""
    k = len(model.segments)
    y = _needs_support(records).astype(int)
    refit = fit_segmentation(
        records,
        y,
        records["support_level"].astype(object),
        candidates=(k,),
        sample_rows=SAMPLE_ROWS,
        refits=REFITS,
        seed=FIT_SEED,
    )
    assert refit.ids == model.ids
    for segment_id, segment in model.segments.items():
        assert refit.segments[segment_id].need_rate == pytest.approx(segment.need_rate)
    levels = {i: s.support_level for i, s in refit.segments.items()}
    assert levels == {i: s.support_level for i, s in model.segments.items()}


def test_service_path_starts_with_the_recommended_level(model: SegmentationModel) -> None:
    first_steps = {"team": "team", "consultation": "network_consultation"}
    for segment in model.segments.values():
        expected = first_steps.get(segment.support_level)
        if expected is None:
            assert segment.service_path[0] not in first_steps.values()
        else:
            assert segment.service_path[0] == expected
        assert all(step in SERVICE_STEPS for step in segment.service_path)


def test_segment_names_are_true_of_their_members(
    model: SegmentationModel, records: pd.DataFrame, assigned: np.ndarray
) -> None:
    """A name that says "working", "unemployed", "students" or a situation holds for most of the
    segment's members; no name speaks of age."""
    status = records["employment_status"].astype(object).to_numpy()
    for segment in model.segments.values():
        members = assigned == segment.id
        share = {
            "Working": np.isin(status[members], ["employed", "entrepreneur"]).mean(),
            "Unemployed or laid off": np.isin(status[members], ["unemployed", "laid_off"]).mean(),
            "Long-term unemployed": np.isin(status[members], ["unemployed", "laid_off"]).mean(),
            "Students": np.isin(status[members], ["student", "outside_labour_force"]).mean(),
        }
        for start, value in share.items():
            if segment.name_en.startswith(start):
                assert value >= 0.5, (segment.name_en, start, value)
        for name in (segment.name_fi, segment.name_sv, segment.name_en):
            assert not re.search(r"nuori|ung |young|aged|ikä|ålder", name.lower()), name
        assert segment.name_sv and segment.name_sv != segment.name_en


def test_a_segment_of_students_is_not_called_working() -> None:
    profile = {
        "share_out_of_work": 0.05, "median_months_unemployed_if_out_of_work": 0.0,
        "share_long_sickness_absence": 0.02, "share_studying_or_outside": 0.7,
        "share_working": 0.2, "share_psychosocial_concern": 0.1,
        "share_prolonged_complaint": 0.1, "median_work_ability_score": 8.0,
        "median_complaint_weeks": 2.0,
    }  # fmt: skip
    name, _ = name_and_path(profile)
    assert name.en == "Students and people outside the labour force with a short-term complaint"
    assert name.sv == "Studerande och personer utanför arbetskraften med kortvariga besvär"
    assert name.fi.startswith("Opiskelijat")
    profile |= {"median_work_ability_score": 2.0}
    assert name_and_path(profile)[0].en.endswith("with poor work ability")  # not "short-term"


def test_direct_assignment_equals_kmeans_predict() -> None:
    records = pd.concat(
        [generate_cohort("pirkanmaa", 6_000, 21), generate_cohort("etela-pohjanmaa", 3_000, 21)],
        ignore_index=True,
    )
    y = records["needs_support"].to_numpy(dtype=bool)
    model = fit_segmentation(
        records, y, records["support_level"].astype(object), candidates=(3, 4), sample_rows=2_000,
        refits=2, seed=0,
    )  # fmt: skip
    table = model.features.transform(records)
    expected = np.asarray(model.ids, dtype=object)[
        model.kmeans.predict(model.scaler.transform(segment_matrix(table, model.medians)))
    ]
    np.testing.assert_array_equal(model.assign(records), expected)
