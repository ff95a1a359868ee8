"""Fairness on the outcomes that have come back: true- and false-positive rates by sex, age band,
first language and region, against the same limits as promotion (models.evaluation's
fairness_report, one implementation for both). Outcomes come back mostly for the clients someone
looked at: read the figures with that selection in mind."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from data_contracts.contract import TARGET
from features.groups import fairness_groups
from models.config import FairnessLimits
from models.evaluation import FairnessReport, fairness_report
from monitoring.checks.base import CheckContext, CheckResult, small_groups_hidden
from monitoring.sources import ALERT, Scored


class OutcomeFairnessLimits(FairnessLimits):
    #: a difference over its limit breaches only when it is also this many standard errors from
    #: zero, so that a small group's or a short window's noise is not reported as unfairness
    min_z: float = Field(3.0, ge=0)


def outcome_fairness(scored: Scored, limits: OutcomeFairnessLimits) -> FairnessReport | None:
    """TPR, FPR and alert rate by group on the records whose outcome is known; a gap breaches
    when it is over its limit and ``min_z`` standard errors from zero."""
    labelled = scored.labelled()
    if labelled.empty:
        return None
    return fairness_report(
        labelled[TARGET].to_numpy(dtype=bool),
        labelled[ALERT].to_numpy(dtype=bool),
        fairness_groups(labelled),
        max_tpr_difference=limits.max_true_positive_rate_difference,
        max_fpr_difference=limits.max_false_positive_rate_difference,
        min_group_size=limits.min_group_size,
        min_group_positives=limits.min_group_positives,
        min_z=limits.min_z,
    )


def outcome_gap_metrics(fairness: FairnessReport) -> dict[str, float]:
    """Flat metrics for MLflow: the largest TPR/FPR difference per attribute."""
    figures = {}
    rows: list[dict[Any, Any]] = fairness.differences.to_dict(orient="records")
    for row in rows:
        if row["metric"] != "alert_rate" and not np.isnan(row["difference"]):
            figures[f"{row['metric']}_difference.{row['attribute']}"] = float(row["difference"])
    return figures


class OutcomeFairnessCheck:
    name = "outcome_fairness"
    limits_type = OutcomeFairnessLimits
    files = ("outcome_fairness.csv",)

    def run(self, context: CheckContext, limits: OutcomeFairnessLimits) -> CheckResult:
        fairness = outcome_fairness(context.current, limits)
        if fairness is None:
            return CheckResult(summary={"outcome_fairness": None})
        return CheckResult(
            breaches=[f"on outcomes: {text}" for text in fairness.breaches()],
            metrics=outcome_gap_metrics(fairness),
            tables={"outcome_fairness": small_groups_hidden(fairness.table, ["n"])},
            summary={"outcome_fairness": fairness.differences.to_dict(orient="records")},
        )
