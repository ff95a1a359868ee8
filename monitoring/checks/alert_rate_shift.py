"""Is alerting turning against a group? Seen before any outcome, from the first booking: how each
group's alert rate (by sex, age band, first language and region) moved since the reference.

Groups differ in need, so their rates differ and may; what should not happen is one group's rate
moving away from another's. The check is a difference in differences: within an attribute, every
pair of groups is tested, and a pair breaches when its difference is both material (over the
limit) and not noise (``min_z`` standard errors from zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from features.groups import fairness_groups
from models.config import Frozen
from models.evaluation import proportion_variance, rates_by_group, widest_gap
from monitoring.checks.base import CheckContext, CheckResult, small_groups_hidden
from monitoring.sources import ALERT, Scored


class AlertRateShiftLimits(Frozen):
    """How much more one group's alert rate may move since the reference than another's."""

    max_alert_rate_shift_difference: float = Field(0.02, gt=0, le=1)
    min_group_size: int = Field(500, ge=1)
    #: a difference over its limit breaches only when it is also this many standard errors from
    #: zero, so that a small group's or a short window's noise is not reported as unfairness
    min_z: float = Field(3.0, ge=0)


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
    reference: Scored, current: Scored, limits: AlertRateShiftLimits
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
            limits.min_z,
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


class AlertRateShiftCheck:
    name = "alert_rate_shift"
    limits_type = AlertRateShiftLimits
    files = ("alert_rate_shift.csv",)

    def run(self, context: CheckContext, limits: AlertRateShiftLimits) -> CheckResult:
        shift = alert_rate_shift(context.reference, context.current, limits)
        return CheckResult(
            breaches=shift.breaches(),
            metrics={
                f"alert_rate_shift_difference.{check['attribute']}": float(check["difference"])
                for check in shift.checks
            },
            tables={
                "alert_rate_shift": small_groups_hidden(shift.table, ["n_reference", "n_current"])
            },
            page_tables={"alert_rate_shift_checks": pd.DataFrame(shift.checks)},
            summary={"alert_rate_shift": shift.checks},
            params={"max_alert_rate_shift_difference": limits.max_alert_rate_shift_difference},
        )
