"""Proxy audit: how well the model's inputs stand for a protected attribute.

Protected attributes (sex, age, first language) are never model inputs, but a feature can carry them
in: the ICPC-2 chapters W and X only women have and Y only men have once made the reason for contact
a proxy for sex (hence the fold in ``features.spec``). This module measures it, on validated booking
records, for every booster input and every protected attribute:

- ``auc``: how well the feature *alone* tells members of one group from everyone else: the one-vs-rest
  ROC AUC of P(group | feature value), the largest over the attribute's groups (``group`` names it).
  Numbers are cut into at most ``MAX_BINS`` quantile bins, a missing value is a bin of its own.
  P(group | value) is estimated on one half of the rows and scored on the other, both ways round
  (two-fold cross-fitting), so a small group's chance differences between bins do not read as a
  proxy; 0.5 is no information, 1.0 a perfect stand-in.
- ``mutual_information``: I(feature; attribute) / H(attribute) over the measured groups, the share
  of the attribute's uncertainty the feature removes (0 none, 1 all). Unlike the AUC it is not
  diluted when the telling values are rare: the recorded chapters W, X and Y are 4 % of contacts,
  so unfolded they lift the AUC for sex only from about 0.53 to 0.545, but the information fourfold.
- one row per attribute for all the features together (``feature`` = ``JOINT``): a small LightGBM
  predicts the attribute from every booster input; its AUC is measured on a held-out half, and its
  mutual information is that between the attribute and the binned held-out probability of ``group``.

Groups with fewer than ``min_group_size`` members are left out (too few to measure), and so are
their rows from the joint model. ``n`` is the number of members of ``group``; ``auc_noise`` the
standard deviation the AUC would have by chance alone if the feature told nothing (Hanley & McNeil
1982: sqrt((n1 + n0 + 1) / (12 n1 n0)), members against the rest, of the rows it is measured on), so
that a small group's AUC can be read against its noise.

``proxy_breaches`` compares a table with the ``ProxyLimits`` of ``models.config``; the promotion gate
and monitoring call it.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from data_contracts.contract import PROTECTED_ATTRIBUTES
from features.groups import fairness_groups
from features.transformers import BookingFeatures
from models.alert import booster_frame
from models.config import ProxyLimits

#: The ``feature`` of the rows that measure all the booster's inputs together.
JOINT = "all features"
#: Numbers are cut into at most this many quantile bins (plus one for missing values).
MAX_BINS = 20
COLUMNS = ("feature", "attribute", "group", "auc", "mutual_information", "n", "auc_noise")

_JOINT_PARAMS = {
    "objective": "multiclass",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 100,
    "max_cat_to_onehot": 16,
    "max_bin": 63,
    # one thread: OpenMP threads on a busy machine (or inside test workers) cost far more than
    # they save on a model this small (measured 16 s on two threads against 2.6 s on one)
    "num_threads": 1,
    "verbosity": -1,
    "seed": 0,
    "deterministic": True,
}
_JOINT_ROUNDS = 50


def proxy_audit(records: pd.DataFrame, min_group_size: int = 200, seed: int = 0) -> pd.DataFrame:
    """The proxy table of validated booking records: every booster input against every protected
    attribute, then all inputs together (see the module's docstring for the columns)."""
    features = booster_frame(BookingFeatures().fit(records).transform(records))
    return audit_features(features, protected_groups(records), min_group_size, seed)


def protected_groups(records: pd.DataFrame) -> pd.DataFrame:
    """The protected attributes of ``records`` as fairness groups (age as its band)."""
    names = ["age_band" if name == "age" else name for name in PROTECTED_ATTRIBUTES]
    return fairness_groups(records)[names]


def audit_features(
    features: pd.DataFrame, groups: pd.DataFrame, min_group_size: int = 200, seed: int = 0
) -> pd.DataFrame:
    """The proxy table of any feature frame against any frame of group labels (the same rows in the
    same order): numbers stay numbers, anything else is taken as categories."""
    features = features.apply(_numeric_or_category)
    rng = np.random.default_rng(seed)
    half = rng.random(len(features)) < 0.5
    binned = {name: _bins(features[name]) for name in features.columns}
    rows: list[dict[str, object]] = []
    for attribute in groups.columns:
        labels, names = pd.factorize(groups[attribute].astype(str), sort=True)
        counts = np.bincount(labels, minlength=len(names))
        kept = [g for g in range(len(names)) if counts[g] >= min_group_size]
        if len(kept) < 2 or len(features) - counts[kept].max() < min_group_size:
            continue  # nothing to tell apart
        measured = np.isin(labels, kept)
        for name, bins in binned.items():
            auc, group = _feature_auc(bins, labels, kept, half)
            mi = _mutual_information(bins[measured], labels[measured])
            noise = _chance_sd(counts[group], len(labels) - counts[group])
            rows.append(_row(name, attribute, names[group], auc, mi, counts[group], noise))
        auc, group, mi, noise = _joint_auc(features, labels, kept, half, seed)
        rows.append(_row(JOINT, attribute, names[group], auc, mi, counts[group], noise))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def proxy_breaches(table: pd.DataFrame, limits: ProxyLimits) -> list[str]:
    """One readable sentence per row of the proxy table above a limit (empty: none). An AUC breaches
    when above its limit by more than ``limits.chance_sds`` times its chance noise; a single
    feature's mutual information when above ``limits.max_feature_mutual_information``."""
    found: list[str] = []
    for row in table.to_dict("records"):
        feature, attribute, group = str(row["feature"]), str(row["attribute"]), str(row["group"])
        auc, noise, mi = (
            float(row["auc"]),
            float(row["auc_noise"]),
            float(row["mutual_information"]),
        )
        joint = feature == JOINT
        what = "all model features together" if joint else f"model feature {feature}"
        limit = limits.max_joint_auc if joint else limits.max_feature_auc
        if auc - limits.chance_sds * noise > limit:
            found.append(
                f"{what}: tells {attribute} {group!r} (n={row['n']}) from the rest with AUC "
                f"{auc:.3f} (chance ±{noise:.3f}), above the limit {limit:.3f}; "
                f"a proxy for {attribute}"
            )
        elif not joint and mi > limits.max_feature_mutual_information:
            found.append(
                f"{what}: removes {mi:.1%} of the uncertainty of {attribute} (best told: "
                f"{group!r}, n={row['n']}, AUC {auc:.3f}), above the limit "
                f"{limits.max_feature_mutual_information:.1%}; a proxy for {attribute}"
            )
    return found


def _row(
    feature: str, attribute: str, group: object, auc: float, mi: float, n: int, noise: float
) -> dict[str, object]:
    return {
        "feature": feature,
        "attribute": attribute,
        "group": str(group),
        "auc": float(auc),
        "mutual_information": float(mi),
        "n": int(n),
        "auc_noise": float(noise),
    }


def _chance_sd(members: float, rest: float) -> float:
    """The standard deviation of an AUC by chance alone (Hanley & McNeil 1982, AUC = 0.5)."""
    if members < 1 or rest < 1:
        return 0.0
    return float(np.sqrt((members + rest + 1) / (12.0 * members * rest)))


def _numeric_or_category(column: pd.Series) -> pd.Series:
    """Categories stay; numbers and booleans become floats (missing NaN); the rest categories."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        values = column.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.Series(values, index=column.index, name=column.name)
    return column.astype("category")


def _bins(column: pd.Series) -> np.ndarray:
    """Bin codes 0..k-1 of one feature: categories or quantile bins, missing the last bin."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.cat.codes, dtype=np.int64)
        return np.where(codes < 0, len(column.cat.categories), codes)
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    distinct = np.unique(values[~missing])
    if len(distinct) <= MAX_BINS:
        codes = np.searchsorted(
            distinct, np.where(missing, distinct[0] if len(distinct) else 0, values)
        )
    else:
        edges = np.unique(np.quantile(values[~missing], np.linspace(0, 1, MAX_BINS + 1)[1:-1]))
        codes = np.searchsorted(edges, np.where(missing, 0.0, values), side="right")
    return np.where(missing, codes.max(initial=0) + 1, codes).astype(np.int64)


def _auc_of_counts(score: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> float:
    """ROC AUC when the rows of bin b all have score[b]: ties within and across bins count half."""
    total_pos, total_neg = positives.sum(), negatives.sum()
    if total_pos == 0 or total_neg == 0:
        return 0.5
    levels, inverse = np.unique(score, return_inverse=True)
    pos = np.bincount(inverse, weights=positives, minlength=len(levels))
    neg = np.bincount(inverse, weights=negatives, minlength=len(levels))
    below = np.cumsum(neg) - neg  # negatives with a lower score
    return float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))


def _feature_auc(
    bins: np.ndarray, labels: np.ndarray, kept: list[int], half: np.ndarray
) -> tuple[float, int]:
    """The largest cross-fitted one-vs-rest AUC of P(group | bin) over the kept groups."""
    size, n_groups = int(bins.max()) + 1, int(labels.max()) + 1
    tables = [
        np.bincount(bins[part] * n_groups + labels[part], minlength=size * n_groups)
        .reshape(size, n_groups)
        .astype(np.float64)
        for part in (half, ~half)
    ]
    best, best_group = -1.0, kept[0]
    for group in kept:
        aucs = []
        for fit, score in ((tables[0], tables[1]), (tables[1], tables[0])):
            fitted_total = fit.sum(axis=1)
            overall = fit[:, group].sum() / max(fit.sum(), 1.0)
            # a bin empty in the fitting half scores the overall share: no information
            share = np.divide(
                fit[:, group], fitted_total, out=np.full(size, overall), where=fitted_total > 0
            )
            members = score[:, group]
            aucs.append(_auc_of_counts(share, members, score.sum(axis=1) - members))
        auc = float(np.mean(aucs))
        if auc > best:
            best, best_group = auc, group
    return best, best_group


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _mutual_information(bins: np.ndarray, labels: np.ndarray) -> float:
    """I(bins; labels) / H(labels), from the whole sample."""
    size, n_groups = int(bins.max()) + 1, int(labels.max()) + 1
    joint = np.bincount(bins * n_groups + labels, minlength=size * n_groups).astype(np.float64)
    h_labels = _entropy(np.bincount(labels, minlength=n_groups).astype(np.float64))
    if h_labels == 0:
        return 0.0
    h_bins = _entropy(np.bincount(bins, minlength=size).astype(np.float64))
    mi = h_bins + h_labels - _entropy(joint)
    return max(mi, 0.0) / h_labels


def _joint_auc(
    features: pd.DataFrame, labels: np.ndarray, kept: list[int], half: np.ndarray, seed: int
) -> tuple[float, int, float, float]:
    """A small LightGBM predicts the group from all features: the largest one-vs-rest AUC over the
    kept groups on the held-out half, its group, and the mutual information described above."""
    classes = np.full(int(labels.max()) + 1, -1)
    classes[kept] = np.arange(len(kept))
    target = classes[labels]
    usable = target >= 0
    fit, test = usable & half, usable & ~half
    params = {**_JOINT_PARAMS, "num_class": len(kept), "seed": seed}
    data = lgb.Dataset(features[fit], label=target[fit], free_raw_data=True)
    booster = lgb.train(params, data, num_boost_round=_JOINT_ROUNDS)
    probabilities = np.asarray(booster.predict(features[test]))
    best, best_group, best_position = -1.0, kept[0], 0
    for position, group in enumerate(kept):
        members = (target[test] == position).astype(np.float64)
        auc = _auc_of_counts(probabilities[:, position], members, 1.0 - members)
        if auc > best:
            best, best_group, best_position = auc, group, position
    mi = _mutual_information(_bins(pd.Series(probabilities[:, best_position])), target[test])
    members_test = float((target[test] == best_position).sum())
    return best, best_group, mi, _chance_sd(members_test, test.sum() - members_test)
