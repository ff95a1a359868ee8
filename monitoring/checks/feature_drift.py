"""Data drift of the model features: one effect size per feature from Evidently's DataDriftPreset
(the shared drift report), and the change of each number's share of missing values."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd
from pydantic import Field

from data_contracts.contract import MODEL_FEATURES
from models.config import Frozen
from monitoring.checks.base import CheckContext, CheckResult
from monitoring.checks.drift_report import (
    DRIFT_FILES,
    DRIFT_LINKS,
    MISSING_SHARE,
    NUMERICAL,
    FeatureDrift,
    drift_report,
)


class FeatureDriftLimits(Frozen):
    """Evidently's own drift tests, effect sizes above 1,000 rows: normed Wasserstein distance for
    numbers, Jensen-Shannon distance for categories. Both estimate how far apart the two
    distributions are, not whether a difference exists, so a large sample does not make a
    negligible shift "significant"."""

    #: a feature has drifted when its distance reaches this
    feature_threshold: float = Field(0.1, gt=0, le=1)
    #: a number's share of missing values moving this much is drift too (e.g. 0.05 -> 0.15)
    missing_share_threshold: float = Field(0.1, gt=0, le=1)
    #: breach when at least this many model features have drifted
    max_drifted_features: int = Field(1, ge=1)


def missing_shares(
    reference: pd.DataFrame, current: pd.DataFrame, limits: FeatureDriftLimits
) -> list[FeatureDrift]:
    """How much the share of missing values of each numeric feature moved (all rows)."""
    return [
        FeatureDrift(
            feature=name,
            method=MISSING_SHARE,
            distance=abs(float(current[name].isna().mean()) - float(reference[name].isna().mean())),
            threshold=limits.missing_share_threshold,
        )
        for name in NUMERICAL
    ]


def _records(drifts: list[FeatureDrift]) -> list[dict[str, Any]]:
    return [asdict(d) | {"drifted": d.drifted} for d in drifts]


class FeatureDriftCheck:
    name = "feature_drift"
    limits_type = FeatureDriftLimits
    files = (*DRIFT_FILES, "feature_drift.csv")

    def run(self, context: CheckContext, limits: FeatureDriftLimits) -> CheckResult:
        report = drift_report(context)
        shares = missing_shares(context.reference.frame, context.current.frame, limits)
        # A number with no value on one side is not in the report: its missing share is its drift.
        by_feature = {f: d for f, d in report.drifts.items() if f in MODEL_FEATURES}
        by_feature |= {d.feature: d for d in shares if d.feature not in report.drifts}
        features = [by_feature[f] for f in MODEL_FEATURES]
        missing = [d for d in shares if d.feature in report.drifts]
        drifted = [d for d in features if d.drifted]
        breaches = []
        if len(drifted) >= limits.max_drifted_features:
            breaches += [
                f"feature {d.feature} drifted: {d.method} {d.distance:.3f} (limit {d.threshold})"
                for d in drifted
            ]
        breaches += [
            f"feature {d.feature}: its share of missing values moved {d.distance:.3f} "
            f"(limit {d.threshold})"
            for d in missing
            if d.drifted
        ]
        metrics = {"drifted_features": float(len(drifted))}
        # One series per measure: a number with no values left is logged under its missing share.
        for d in [*features, *missing]:
            kind = "missing_share_change" if d.method == MISSING_SHARE else "drift"
            metrics[f"{kind}.{d.feature}"] = d.distance
        return CheckResult(
            breaches=breaches,
            metrics=metrics,
            tables={"feature_drift": pd.DataFrame(_records([*features, *missing]))},
            summary={
                "rows_compared": list(report.rows_compared),
                "features": _records(features),
                "missing_shares": _records(missing),
            },
            lines=[
                f"drifted features: {', '.join(d.feature for d in drifted) or 'none'} "
                f"(of {len(features)})"
            ],
            links=dict(DRIFT_LINKS),
            params={"feature_threshold": limits.feature_threshold},
        )
