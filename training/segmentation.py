"""Fitting the segmentation model: named client profiles with a support level and a service path.

Clients are grouped with k-means on a few interpretable, standardised features of the booking
context (not on the outcome, and never on protected attributes). The number of segments is chosen by
silhouette among configured candidates, provided bootstrap refits agree (adjusted Rand index).
Segment ids are stable: the first model numbers segments by need rate; every later model is aligned
to the previous champion's centroids (Hungarian matching), so an id keeps its meaning across retrains.
Names, support levels and service paths are read off each segment's profile in numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from data_contracts.booking import SupportLevel
from features.transformers import BookingFeatures
from models.segmentation import SEGMENT_FEATURES, Segment, SegmentationModel, segment_matrix
from training.naming import name_and_path

STABLE_ARI = 0.8


def _fit_kmeans(matrix: np.ndarray, k: int, seed: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit(matrix)


def choose_segment_count(
    matrix: np.ndarray,
    candidates: tuple[int, ...],
    refits: int,
    seed: int,
    keep: int | None = None,
) -> pd.DataFrame:
    """Silhouette (on up to 5,000 points) and bootstrap stability for each candidate count.

    The most separated stable count wins (stability: mean ARI of bootstrap refits at least 0.8).
    ``keep`` is the previous champion's count: kept while it is stable, because silhouettes of
    neighbouring counts differ by less than their noise and a changed count reshuffles segments.
    """
    rng = np.random.default_rng(seed)
    sample = matrix[rng.choice(len(matrix), size=min(5_000, len(matrix)), replace=False)]
    rows = []
    for k in candidates:
        reference = _fit_kmeans(matrix, k, seed)
        silhouette = float(silhouette_score(sample, reference.predict(sample)))
        agreements = []
        for refit in range(refits):
            boot = matrix[rng.choice(len(matrix), size=len(matrix), replace=True)]
            other = _fit_kmeans(boot, k, seed + refit + 1)
            agreements.append(adjusted_rand_score(reference.predict(matrix), other.predict(matrix)))
        rows.append(
            {
                "k": k,
                "silhouette": silhouette,
                "stability_ari": float(np.mean(agreements)),
                "stability_ari_min": float(np.min(agreements)),
            }
        )
    table = pd.DataFrame(rows)
    stable = table[table["stability_ari"] >= STABLE_ARI]
    if keep is not None and keep in set(stable["k"]):
        chosen = keep
    else:
        pool = stable if len(stable) else table
        chosen = int(pool.sort_values(["silhouette", "k"], ascending=[False, True]).iloc[0]["k"])
    table["chosen"] = table["k"] == chosen
    return table


def fit_segmentation(
    records: pd.DataFrame,
    y: np.ndarray,
    support_level: pd.Series,
    candidates: tuple[int, ...] = (3, 4, 5, 6, 7, 8),
    sample_rows: int = 10_000,
    refits: int = 3,
    seed: int = 0,
    reference: pd.DataFrame | None = None,
) -> SegmentationModel:
    """Fit segments on booking records; ``reference`` is the previous champion's centroids."""
    y = np.asarray(y, dtype=bool)
    features = BookingFeatures().fit(records)
    table = features.transform(records)
    medians = {
        name: float(np.nanmedian(table[name].to_numpy(dtype=float, na_value=np.nan)))
        for name in SEGMENT_FEATURES
    }
    rng = np.random.default_rng(seed)
    take = rng.choice(len(table), size=min(sample_rows, len(table)), replace=False)
    scaler = StandardScaler().fit(segment_matrix(table.iloc[take], medians))
    sample = scaler.transform(segment_matrix(table.iloc[take], medians))
    keep = len(reference) if reference is not None and len(reference) else None
    selection = choose_segment_count(sample, candidates, refits, seed, keep)
    k = int(selection.loc[selection["chosen"], "k"].iloc[0])
    kmeans = _fit_kmeans(sample, k, seed)

    clusters = kmeans.predict(scaler.transform(segment_matrix(table, medians)))
    need_rates = np.array(
        [y[clusters == c].mean() if (clusters == c).any() else 0 for c in range(k)]
    )
    reference_scaled = (
        None
        if reference is None
        else pd.DataFrame(
            scaler.transform(reference[list(SEGMENT_FEATURES)].to_numpy()), index=reference.index
        )
    )
    ids = _stable_ids(kmeans.cluster_centers_, need_rates, reference_scaled)
    model = SegmentationModel(features, medians, scaler, kmeans, ids, {}, selection)
    assigned = np.asarray(ids, dtype=object)[clusters]
    model.segments = describe_segments(
        table,
        records["age"].to_numpy(dtype=float),
        assigned,
        y,
        support_level.to_numpy(dtype=object),
    )
    return model


def _stable_ids(
    centres: np.ndarray, need_rates: np.ndarray, reference: pd.DataFrame | None
) -> list[str]:
    k = len(centres)
    ids: list[str | None] = [None] * k
    used: set[str] = set()
    if reference is not None and len(reference):
        distance = np.linalg.norm(centres[:, None, :] - reference.to_numpy()[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(distance)
        for row, col in zip(rows, cols, strict=True):
            ids[row] = str(reference.index[col])
            used.add(str(reference.index[col]))
    # New segments (or the first model): numbered by need rate, highest first, after every id the
    # reference ever used, so that a retired id is never given a new meaning.
    number = 1 + max((int(i[1:]) for i in used if i[1:].isdigit()), default=0)
    for cluster in np.argsort(-need_rates, kind="stable"):
        if ids[cluster] is None:
            ids[cluster] = f"S{number}"
            number += 1
    return [str(i) for i in ids]


def describe_segments(
    features: pd.DataFrame,
    ages: np.ndarray,
    assigned: np.ndarray,
    y: np.ndarray,
    support_level: np.ndarray,
) -> dict[str, Segment]:
    """Profiles in numbers, names, levels and paths. Age describes a segment's members in the
    profile table; it never defines, names or routes one."""
    y = np.asarray(y, dtype=bool)
    overall_need = float(np.mean(y)) if len(y) else 0.0
    segments = {}
    for segment_id in sorted(set(assigned), key=lambda s: (len(s), s)):
        members = assigned == segment_id
        part = features[members]
        status = part["employment_status"].astype(object)
        profile = {
            "mean_age": float(np.nanmean(ages[members])),
            "share_out_of_work": float(part["out_of_work"].mean()),
            "share_working": float(status.isin(["employed", "entrepreneur"]).mean()),
            "share_studying_or_outside": float(
                status.isin(["student", "outside_labour_force"]).mean()
            ),
            "median_months_unemployed_if_out_of_work": float(
                part.loc[part["out_of_work"] == 1, "months_unemployed"].median()
            )
            if (part["out_of_work"] == 1).any()
            else 0.0,
            "share_long_sickness_absence": float(part["long_sickness_absence"].mean()),
            "share_prolonged_complaint": float(part["prolonged_complaint"].mean()),
            "median_complaint_weeks": float(part["complaint_duration_weeks"].median()),
            "median_work_ability_score": float(part["work_ability_score"].median()),
            "share_psychosocial_concern": float((part["psychosocial_concerns"] >= 1).mean()),
            "mean_visits_12m": float(part["healthcare_visits_12m"].mean()),
        }
        need_rate = float(y[members].mean())
        levels = pd.Series(support_level[members & y]).value_counts()
        level = _recommended_level(need_rate, overall_need, levels)
        name, path = name_and_path(profile)
        if level == SupportLevel.TEAM:
            path = ["team", *path]
        elif level == SupportLevel.CONSULTATION:
            path = ["network_consultation", *path]
        segments[segment_id] = Segment(
            id=segment_id,
            name_fi=name.fi,
            name_sv=name.sv,
            name_en=name.en,
            support_level=level,
            service_path=path,
            share=float(members.mean()),
            need_rate=need_rate,
            profile={k: round(v, 3) for k, v in profile.items()},
        )
    _deduplicate_names(segments)
    return segments


def _recommended_level(need_rate: float, overall_need: float, levels: pd.Series) -> SupportLevel:
    """Self-care for segments whose need is below average; otherwise the level most often confirmed
    for the segment's clients who needed support."""
    if need_rate < overall_need or levels.empty:
        return SupportLevel.SELF_CARE
    return SupportLevel(str(levels.idxmax()))


def _deduplicate_names(segments: dict[str, Segment]) -> None:
    seen: dict[str, int] = {}
    for segment in segments.values():
        count = seen.get(segment.name_en, 0) + 1
        seen[segment.name_en] = count
        if count > 1:
            segment.name_en += f" ({count})"
            segment.name_sv += f" ({count})"
            segment.name_fi += f" ({count})"


def segment_summary(model: SegmentationModel) -> dict[str, Any]:
    chosen = model.selection[model.selection["chosen"]].iloc[0]
    return {
        "segments": len(model.segments),
        "silhouette": float(chosen["silhouette"]),
        "stability_ari": float(chosen["stability_ari"]),
    }
