"""One monitoring run: reference against current, drift and fairness, files and an MLflow run.

Exit codes of ``kykytutka monitor``: 0 within limits, 1 drift or a fairness limit breached, 2 bad
input (MonitorInputError).
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from models.evaluation import FairnessReport
from models.packaged import KykytutkaModel
from monitoring.config import MonitorConfig
from monitoring.drift import MISSING_SHARE, DriftResult, run_drift
from monitoring.fairness import GroupShift, alert_rate_shift, outcome_fairness, outcome_gap_metrics
from monitoring.sources import MonitorInputError, Scored, load_current, load_reference

WITHIN_LIMITS, BREACHED, BAD_INPUT = 0, 1, 2


@dataclass
class MonitorResult:
    reference: Scored
    current: Scored
    model_uri: str
    model_version: str
    drift: DriftResult
    group_shift: GroupShift
    fairness: FairnessReport | None
    breaches: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: where the time went, by step (seconds)
    timings: dict[str, float] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    mlflow_error: str | None = None

    @property
    def exit_code(self) -> int:
        return BREACHED if self.breaches else WITHIN_LIMITS

    def metrics(self) -> dict[str, float]:
        figures: dict[str, float] = {
            "rows_reference": float(len(self.reference.frame)),
            "rows_current": float(len(self.current.frame)),
            "outcomes_current": float(len(self.current.labelled())),
            "drifted_features": float(len(self.drift.drifted_features)),
            "prediction_drift": self.drift.prediction.distance,
            "alert_rate_reference": self.drift.alert_rate_reference,
            "alert_rate_current": self.drift.alert_rate_current,
            "breaches": float(len(self.breaches)),
            "seconds": self.seconds,
        }
        # One series per measure: a number with no values left is logged under its missing share.
        for d in [*self.drift.features, *self.drift.missing]:
            kind = "missing_share_change" if d.method == MISSING_SHARE else "drift"
            figures[f"{kind}.{d.feature}"] = d.distance
        figures |= {f"quality.{k}": v for k, v in self.drift.quality.items()}
        figures |= {
            f"alert_rate_shift_difference.{check['attribute']}": float(check["difference"])
            for check in self.group_shift.checks
        }
        figures |= outcome_gap_metrics(self.fairness)
        return figures

    def summary(self) -> str:
        drift = self.drift
        lines = [
            f"kykytutka monitor: {'BREACHED' if self.breaches else 'within limits'}",
            f"  reference: {self.reference.description} ({len(self.reference.frame):,} rows)",
            f"  current:   {self.current.description} ({len(self.current.frame):,} rows, "
            f"{len(self.current.labelled()):,} with outcomes)",
            f"  model:     {self.model_uri} (version {self.model_version}); current answers by "
            f"version {', '.join(self.current.model_versions)}",
            f"  drifted features: {', '.join(drift.drifted_features) or 'none'} "
            f"(of {len(drift.features)})",
            f"  alert probability drift {drift.prediction.distance:.3f} "
            f"(limit {drift.prediction.threshold}); alert rate "
            f"{drift.alert_rate_reference:.3f} -> {drift.alert_rate_current:.3f}",
        ]
        if drift.quality:
            lines.append(
                "  quality on outcomes: "
                + ", ".join(f"{k} {v:.3f}" for k, v in sorted(drift.quality.items()))
            )
        lines += [f"  NOTE: {text}" for text in self.notes()]
        lines += [f"  BREACH: {text}" for text in self.breaches]
        return "\n".join(lines)

    def notes(self) -> list[str]:
        answered = self.current.model_versions
        if answered and answered != [self.model_version]:
            return [
                f"the current answers came from version {', '.join(answered)} and the reference "
                f"was scored by version {self.model_version}: prediction drift and alert-rate "
                "shifts measure the model change as well as the population"
            ]
        return []


def _verdict(result: MonitorResult, config: MonitorConfig) -> list[str]:
    limits = config.drift
    drift = result.drift
    breaches = []
    drifted = [d for d in drift.features if d.drifted]
    if len(drifted) >= limits.max_drifted_features:
        breaches += [
            f"feature {d.feature} drifted: {d.method} {d.distance:.3f} (limit {d.threshold})"
            for d in drifted
        ]
    breaches += [
        f"feature {d.feature}: its share of missing values moved {d.distance:.3f} "
        f"(limit {d.threshold})"
        for d in drift.missing
        if d.drifted
    ]
    if drift.prediction.drifted:
        breaches.append(
            f"alert probability drifted: {drift.prediction.method} "
            f"{drift.prediction.distance:.3f} (limit {drift.prediction.threshold})"
        )
    change = drift.alert_rate_current - drift.alert_rate_reference
    if abs(change) > limits.max_alert_rate_change:
        breaches.append(
            f"alert rate moved {change * 100:+.1f} pp ({drift.alert_rate_reference:.3f} -> "
            f"{drift.alert_rate_current:.3f}; limit {limits.max_alert_rate_change * 100:.1f} pp)"
        )
    breaches += result.group_shift.breaches()
    if result.fairness is not None:
        breaches += [f"on outcomes: {text}" for text in result.fairness.breaches()]
    return breaches


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
    _prepare(out)
    drift = run_drift(ref, cur, config.drift, config.sampling, out)
    timed("evidently_s")
    result = MonitorResult(
        reference=ref,
        current=cur,
        model_uri=model_uri,
        model_version=version,
        drift=drift,
        group_shift=alert_rate_shift(ref, cur, config.group_shift, config.min_z),
        fairness=outcome_fairness(cur, config.fairness, config.min_z),
    )
    result.breaches = _verdict(result, config)
    timed("fairness_s")
    result.seconds = time.perf_counter() - started
    result.timings = timings
    _write(result, config, out)
    if log_to_mlflow:
        try:
            result.mlflow_run_id = _log(result, config, out)
        except Exception as exc:  # the reports are written; say that the trend misses a point
            result.mlflow_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return result


#: what a run writes; an earlier run's files are removed first, so none is mistaken for this one's
REPORT_FILES = (
    "index.html", "summary.json", "drift.html", "drift.json", "quality.html", "quality.json",
    "feature_drift.csv", "alert_rate_shift.csv", "outcome_fairness.csv",
)  # fmt: skip


#: groups with fewer clients than this are left out of the written tables: a rate over a handful
#: of people (a rare language in one region) would tell about those people. The checks never use
#: such groups (min_group_size).
MIN_SHOWN_GROUP = 10


def _small_groups_hidden(table: pd.DataFrame, sizes: list[str]) -> pd.DataFrame:
    small = (table[sizes] < MIN_SHOWN_GROUP).any(axis=1)
    return table[~small].reset_index(drop=True)


def _prepare(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in REPORT_FILES:
            (out / name).unlink(missing_ok=True)
        probe = out / ".kykytutka-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise MonitorInputError(
            f"--out {out}: cannot write reports there ({exc.strerror})"
        ) from None


def _write(result: MonitorResult, config: MonitorConfig, out: Path) -> None:
    drift = result.drift
    tables = {
        "feature_drift": pd.DataFrame(
            [asdict(d) | {"drifted": d.drifted} for d in [*drift.features, *drift.missing]]
        ),
        "alert_rate_shift": _small_groups_hidden(
            result.group_shift.table, ["n_reference", "n_current"]
        ),
    }
    if result.fairness is not None:
        tables["outcome_fairness"] = _small_groups_hidden(result.fairness.table, ["n"])
    for name, table in tables.items():
        table.to_csv(out / f"{name}.csv", index=False)
    summary: dict[str, Any] = {
        "status": "breached" if result.breaches else "within limits",
        "exit_code": result.exit_code,
        "breaches": result.breaches,
        "notes": result.notes(),
        "reference": result.reference.description,
        "current": result.current.description,
        "model": {"uri": result.model_uri, "version": result.model_version},
        "current_model_versions": result.current.model_versions,
        "rows_compared": list(result.drift.rows_compared),
        "timings": result.timings,
        "metrics": result.metrics(),
        "features": [asdict(d) | {"drifted": d.drifted} for d in drift.features],
        "missing_shares": [asdict(d) | {"drifted": d.drifted} for d in drift.missing],
        "alert_rate_shift": result.group_shift.checks,
        "outcome_fairness": (
            result.fairness.differences.to_dict(orient="records") if result.fairness else None
        ),
        "config": config.model_dump(mode="json"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (out / "index.html").write_text(_page(result, tables), encoding="utf-8")


def _page(result: MonitorResult, tables: dict[str, pd.DataFrame]) -> str:
    links = '<a href="drift.html">data and prediction drift (Evidently)</a>'
    if result.drift.quality:
        links += ' · <a href="quality.html">classification quality on outcomes (Evidently)</a>'
    sections = "".join(
        f"<h2>{html.escape(name.replace('_', ' '))}</h2>"
        + table.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="")
        for name, table in tables.items()
    )
    checks = pd.DataFrame(result.group_shift.checks).to_html(
        index=False, float_format=lambda v: f"{v:.4f}"
    )
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Kykytutka monitoring</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}</style>"
        f"<h1>Kykytutka monitoring</h1><pre>{html.escape(result.summary())}</pre><p>{links}</p>"
        f"<h2>alert rate shift checks</h2>{checks}{sections}</html>"
    )


def _log(result: MonitorResult, config: MonitorConfig, out: Path) -> str:
    import mlflow

    from models.registry import ensure_experiment, use_tracking

    client = use_tracking()
    experiment = ensure_experiment(client, config.experiment)
    name = f"monitor {datetime.now(UTC):%Y-%m-%d %H:%M}"
    with mlflow.start_run(experiment_id=experiment, run_name=name) as run:
        mlflow.set_tags(
            {
                "kykytutka.status": "breached" if result.breaches else "within limits",
                "kykytutka.model_version": result.model_version,
                "kykytutka.reference": result.reference.description[:250],
                "kykytutka.current": result.current.description[:250],
            }
        )
        mlflow.log_params(
            {
                "model_uri": result.model_uri,
                "sample_max_rows": config.sampling.max_rows,
                "feature_threshold": config.drift.feature_threshold,
                "max_alert_rate_shift_difference": (
                    config.group_shift.max_alert_rate_shift_difference
                ),
            }
        )
        mlflow.log_metrics(result.metrics())
        mlflow.log_artifacts(str(out))
        return str(run.info.run_id)
