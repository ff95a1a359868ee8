"""One monitoring run: reference against current, the configured checks in order (drift, quality,
fairness: ``monitoring/checks/``), files and an MLflow run.

Exit codes of ``kykytutka monitor``: 0 within limits, 1 drift or a fairness limit breached, 2 bad
input (MonitorInputError).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from models.packaged import KykytutkaModel
from monitoring.checks import CHECKS, CheckContext, CheckResult
from monitoring.config import MonitorConfig
from monitoring.reports import log_run, merged, prepare, write_reports
from monitoring.sources import MonitorInputError, Scored, load_current, load_reference

WITHIN_LIMITS, BREACHED, BAD_INPUT = 0, 1, 2


@dataclass
class MonitorResult:
    reference: Scored
    current: Scored
    model_uri: str
    model_version: str
    #: each check's result by the check's name, in the order they ran
    checks: dict[str, CheckResult] = field(default_factory=dict)
    seconds: float = 0.0
    #: where the time went, by step (seconds)
    timings: dict[str, float] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    mlflow_error: str | None = None

    @property
    def breaches(self) -> list[str]:
        return [text for check in self.checks.values() for text in check.breaches]

    @property
    def exit_code(self) -> int:
        return BREACHED if self.breaches else WITHIN_LIMITS

    def metrics(self) -> dict[str, float]:
        return merged(
            [
                {
                    "rows_reference": float(len(self.reference.frame)),
                    "rows_current": float(len(self.current.frame)),
                    "outcomes_current": float(len(self.current.labelled())),
                },
                *(check.metrics for check in self.checks.values()),
                {"breaches": float(len(self.breaches)), "seconds": self.seconds},
            ],
            "metric",
        )

    def summary(self) -> str:
        lines = [
            f"kykytutka monitor: {'BREACHED' if self.breaches else 'within limits'}",
            f"  reference: {self.reference.description} ({len(self.reference.frame):,} rows)",
            f"  current:   {self.current.description} ({len(self.current.frame):,} rows, "
            f"{len(self.current.labelled()):,} with outcomes)",
            f"  model:     {self.model_uri} (version {self.model_version}); current answers by "
            f"version {', '.join(self.current.model_versions)}",
        ]
        lines += [f"  {line}" for check in self.checks.values() for line in check.lines]
        lines += [f"  NOTE: {text}" for text in self.notes()]
        lines += [f"  BREACH: {text}" for text in self.breaches]
        return "\n".join(lines)

    def notes(self) -> list[str]:
        notes = []
        answered = self.current.model_versions
        if answered and answered != [self.model_version]:
            notes.append(
                f"the current answers came from version {', '.join(answered)} and the reference "
                f"was scored by version {self.model_version}: prediction drift and alert-rate "
                "shifts measure the model change as well as the population"
            )
        return notes + [text for check in self.checks.values() for text in check.notes]


def load_monitored_model(model_uri: str) -> tuple[KykytutkaModel, str]:
    from models.registry import ModelNotAvailable, load_model, resolve_version

    try:
        model = load_model(model_uri)
    except ModelNotAvailable as exc:
        raise MonitorInputError(str(exc)) from None
    version = resolve_version(model_uri) or model_uri.rsplit("/", 1)[-1]
    return model, version


def monitor(
    reference: str,
    current: str,
    out: Path,
    config: MonitorConfig,
    model_uri: str,
    audit_url: str,
    log_to_mlflow: bool = True,
    now: datetime | None = None,
) -> MonitorResult:
    """Run the checks, write the reports into ``out`` and (by default) log them to MLflow."""
    started = lap = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(step: str) -> None:
        nonlocal lap
        timings[step] = round(time.perf_counter() - lap, 2)
        lap = time.perf_counter()

    model, version = load_monitored_model(model_uri)
    timed("load_model_s")
    ref = load_reference(reference, model, version)
    timed("reference_s")
    cur = load_current(current, model, version, audit_url, now or datetime.now(UTC))
    timed("current_s")
    # Every registered check's files, not only this run's: a check since left out of the
    # configuration must not leave an earlier run's table behind.
    prepare(out, [name for check in CHECKS.values() for name in check.files])
    context = CheckContext(reference=ref, current=cur, config=config, out=out)
    result = MonitorResult(reference=ref, current=cur, model_uri=model_uri, model_version=version)
    for name in config.checks:
        result.checks[name] = CHECKS[name].run(context, config.limits[name])
        timed(f"{name}_s")
    result.seconds = time.perf_counter() - started
    result.timings = timings
    write_reports(result, config, out)
    if log_to_mlflow:
        try:
            result.mlflow_run_id = log_run(result, config, out)
        except Exception as exc:  # the reports are written; say that the trend misses a point
            result.mlflow_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return result
