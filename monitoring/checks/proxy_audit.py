"""Proxy audit of the current window: how well the model's inputs tell a protected group (sex, age
band, first language) from the rest, measured on the bookings actually assessed (``models.proxy``),
with the limits the promotion gate uses. A population can turn a harmless feature into a proxy
(a referral source only one age group uses, say) long after the model passed promotion."""

from __future__ import annotations

import pandas as pd

from data_contracts.contract import BOOKING_COLUMNS
from models.config import ProxyLimits
from models.proxy import JOINT, proxy_audit, proxy_breaches
from monitoring.checks.base import CheckContext, CheckResult

FILE = "proxy_audit.csv"


class ProxyAuditCheck:
    name = "proxy_audit"
    limits_type = ProxyLimits
    files = (FILE,)

    def run(self, context: CheckContext, limits: ProxyLimits) -> CheckResult:
        frame = context.current.frame
        records = frame[[c for c in BOOKING_COLUMNS if c in frame.columns]]
        table = proxy_audit(records, min_group_size=limits.min_group_size)
        breaches = [f"proxy: {text}" for text in proxy_breaches(table, limits)]
        metrics: dict[str, float] = {}
        for attribute, rows in table.groupby("attribute"):
            single = rows[rows["feature"] != JOINT]
            joint = rows[rows["feature"] == JOINT]
            if len(single):
                metrics[f"proxy.max_feature_auc.{attribute}"] = float(single["auc"].max())
            if len(joint):
                metrics[f"proxy.joint_auc.{attribute}"] = float(joint["auc"].iloc[0])
        top = _strongest(table)
        line = "proxy audit: " + (
            ", ".join(f"{r.attribute} {r.feature} AUC {r.auc:.3f}" for r in top.itertuples())
            if len(top)
            else "no group large enough to measure"
        )
        return CheckResult(
            breaches=breaches,
            metrics=metrics,
            tables={"proxy_audit": table},
            lines=[line],
        )


def _strongest(table: pd.DataFrame) -> pd.DataFrame:
    """The best-told group of each attribute by any single feature."""
    single = table[table["feature"] != JOINT]
    if single.empty:
        return single
    return single.loc[single.groupby("attribute")["auc"].idxmax()]
