"""Classification quality on the outcomes that have come back: Evidently's ClassificationPreset
(precision, recall, FPR, F1, confusion matrix), compared with the reference's outcomes when the
reference has them. Reported and followed as trends; no limit yet."""

from __future__ import annotations

from pathlib import Path

from models.config import Frozen
from monitoring.checks.base import CheckContext, CheckResult
from monitoring.checks.drift_report import (
    data_definition,
    evidently_frame,
    quiet_evidently,
    sample,
)
from monitoring.config import SamplingConfig
from monitoring.sources import Scored

FIGURES = ("Accuracy", "Precision", "Recall", "F1Score", "FPR", "FNR")


class QualityLimits(Frozen):
    """None yet: the figures are metrics (``quality.<name>``) to follow over time."""


class QualityCheck:
    name = "quality"
    limits_type = QualityLimits
    files = ("quality.html", "quality.json")

    def run(self, context: CheckContext, limits: QualityLimits) -> CheckResult:
        if not context.current.has_outcomes:
            return CheckResult()
        figures = classification_quality(
            context.reference, context.current, context.config.sampling, context.out
        )
        if not figures:
            return CheckResult()
        return CheckResult(
            metrics={f"quality.{k}": v for k, v in figures.items()},
            lines=[
                "quality on outcomes: "
                + ", ".join(f"{k} {v:.3f}" for k, v in sorted(figures.items()))
            ],
            links={"quality.html": "classification quality on outcomes (Evidently)"},
        )


def classification_quality(
    reference: Scored, current: Scored, sampling: SamplingConfig, out: Path
) -> dict[str, float]:
    """Write ``quality.html``/``quality.json`` into ``out``; return the figures by lower-case
    name (``recall``, ``fpr``...)."""
    quiet_evidently()
    from evidently import Dataset, Report
    from evidently.presets import ClassificationPreset

    definition = data_definition(labelled=True)
    cur = Dataset.from_pandas(
        evidently_frame(sample(current.labelled(), sampling), True), data_definition=definition
    )
    ref = None
    if reference.has_outcomes:
        ref = Dataset.from_pandas(
            evidently_frame(sample(reference.labelled(), sampling), True),
            data_definition=definition,
        )
    snapshot = Report([ClassificationPreset()], include_tests=False).run(cur, ref)
    snapshot.save_html(str(out / "quality.html"))
    snapshot.save_json(str(out / "quality.json"))
    figures = {}
    for metric in snapshot.dict()["metrics"]:
        kind = metric.get("config", {}).get("type", "").rsplit(":", 1)[-1]
        if kind in FIGURES:
            value = metric["value"]
            value = value.get("current") if isinstance(value, dict) else value
            if value is not None:  # undefined when the outcomes hold one class only
                figures[kind.lower()] = float(value)
    return figures
