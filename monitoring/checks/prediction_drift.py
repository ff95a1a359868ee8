"""Prediction drift: how far the alert probability's distribution moved (from the shared Evidently
drift report) and how much the alert rate changed (over every row)."""

from __future__ import annotations

from pydantic import Field

from models.config import Frozen
from monitoring.checks.base import CheckContext, CheckResult
from monitoring.checks.drift_report import DRIFT_FILES, DRIFT_LINKS, drift_report
from monitoring.sources import ALERT, PROBABILITY


class PredictionDriftLimits(Frozen):
    #: breach when the alert probability's distribution has moved this far (normed Wasserstein)
    prediction_threshold: float = Field(0.1, gt=0, le=1)
    #: breach when the alert rate moved more than this (absolute, e.g. 0.10 -> 0.13)
    max_alert_rate_change: float = Field(0.03, gt=0, le=1)


class PredictionDriftCheck:
    name = "prediction_drift"
    limits_type = PredictionDriftLimits
    files = DRIFT_FILES

    def run(self, context: CheckContext, limits: PredictionDriftLimits) -> CheckResult:
        report = drift_report(context)
        prediction = report.drifts[PROBABILITY]
        before = float(context.reference.frame[ALERT].mean())
        after = float(context.current.frame[ALERT].mean())
        breaches = []
        if prediction.drifted:
            breaches.append(
                f"alert probability drifted: {prediction.method} "
                f"{prediction.distance:.3f} (limit {prediction.threshold})"
            )
        change = after - before
        if abs(change) > limits.max_alert_rate_change:
            breaches.append(
                f"alert rate moved {change * 100:+.1f} pp ({before:.3f} -> {after:.3f}; "
                f"limit {limits.max_alert_rate_change * 100:.1f} pp)"
            )
        return CheckResult(
            breaches=breaches,
            metrics={
                "prediction_drift": prediction.distance,
                "alert_rate_reference": before,
                "alert_rate_current": after,
            },
            summary={"rows_compared": list(report.rows_compared)},
            lines=[
                f"alert probability drift {prediction.distance:.3f} "
                f"(limit {prediction.threshold}); alert rate {before:.3f} -> {after:.3f}"
            ],
            links=dict(DRIFT_LINKS),
        )
