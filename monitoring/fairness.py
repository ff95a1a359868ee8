"""Is alerting turning against a group? Two checks over sex, age band, first language and region.

1. Without outcomes (every day, from the first booking): how each group's alert rate moved since
   the reference. Groups differ in need, so their rates differ and may; what should not happen is
   one group's rate moving away from another's. The check is a difference in differences: the
   largest minus the smallest change across the groups of one attribute, breached when it is
   both material (over the limit) and not noise (``min_z`` standard errors from zero).
2. With outcomes: true- and false-positive rates by group, against the same limits as promotion
   (training/evaluation.fairness_report, one implementation for both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.contract import TARGET
from features.groups import fairness_groups
from models.config import FairnessLimits
from models.evaluation import (
    FairnessReport,
    fairness_report,
    proportion_variance,
    rates_by_group,
    widest_gap,
)
from monitoring.config import GroupShiftLimits
from monitoring.sources import ALERT, Scored


@dataclass
class GroupShift:
    #: attribute, group, n_reference, n_current, alert_rate_reference, alert_rate_current, change
    table: pd.DataFrame
    #: one per attribute: attribute, rising, falling, difference, z, limit, passed
    checks: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        return all(check["passed"] for check in self.checks)

    def breaches(self) -> list[str]:
        return [
            f"alert rate of {c['attribute']}={c['rising']} moved {c['difference'] * 100:.1f} pp "
            f"more than of {c['attribute']}={c['falling']} since the reference "
            f"(limit {c['limit'] * 100:.1f} pp, z {c['z']:.1f})"
            for c in self.checks
            if not c["passed"]
        ]


def _rates(frame: pd.DataFrame, groups: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """n and alert rate by group (no outcomes needed: they are not read)."""
    alert = frame[ALERT].to_numpy(dtype=bool)
    table = rates_by_group(np.zeros_like(alert), alert, groups[attribute].to_numpy())
    return table.set_index("group")[["n", "alert_rate"]]


def alert_rate_shift(
    reference: Scored, current: Scored, limits: GroupShiftLimits, min_z: float
) -> GroupShift:
    ref_groups = fairness_groups(reference.frame)
    cur_groups = fairness_groups(current.frame)
    tables, checks = [], []
    for attribute in cur_groups.columns:
        joined = _rates(reference.frame, ref_groups, attribute).join(
            _rates(current.frame, cur_groups, attribute),
            how="outer",
            lsuffix="_reference",
            rsuffix="_current",
        )
        joined = joined.fillna({"n_reference": 0, "n_current": 0})
        joined["change"] = joined["alert_rate_current"] - joined["alert_rate_reference"]
        joined = joined.reset_index(names="group")
        joined.insert(0, "attribute", attribute)
        tables.append(joined)
        eligible = joined[
            (joined["n_reference"] >= limits.min_group_size)
            & (joined["n_current"] >= limits.min_group_size)
        ]
        if len(eligible) < 2:
            continue
        ref, cur = (
            proportion_variance(
                eligible[f"alert_rate_{side}"].to_numpy(dtype=float),
                eligible[f"n_{side}"].to_numpy(dtype=float),
            )
            for side in ("reference", "current")
        )
        gap = widest_gap(
            eligible["group"].astype(str).tolist(),
            eligible["change"].to_numpy(dtype=float),
            ref + cur,
            limits.max_alert_rate_shift_difference,
            min_z,
        )
        checks.append(
            {
                "attribute": attribute,
                "rising": gap.high,
                "falling": gap.low,
                "difference": gap.difference,
                "z": gap.z,
                "limit": limits.max_alert_rate_shift_difference,
                "passed": gap.passed,
            }
        )
    return GroupShift(pd.concat(tables, ignore_index=True), checks)


def outcome_fairness(scored: Scored, limits: FairnessLimits, min_z: float) -> FairnessReport | None:
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
        min_z=min_z,
    )


def outcome_gap_metrics(fairness: FairnessReport | None) -> dict[str, float]:
    """Flat metrics for MLflow: the largest TPR/FPR difference per attribute."""
    if fairness is None:
        return {}
    figures = {}
    rows: list[dict[Any, Any]] = fairness.differences.to_dict(orient="records")
    for row in rows:
        if row["metric"] != "alert_rate" and not np.isnan(row["difference"]):
            figures[f"{row['metric']}_difference.{row['attribute']}"] = float(row["difference"])
    return figures
