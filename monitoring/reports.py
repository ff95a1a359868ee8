"""What a monitoring run leaves behind: ``index.html``, ``summary.json``, each check's tables as
CSV (beside the files the checks write themselves, such as Evidently's reports) and an MLflow run.

Nothing here knows a check: every writer takes the checks' results (``CheckResult``) as they are.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from monitoring.config import MonitorConfig
from monitoring.sources import MonitorInputError

if TYPE_CHECKING:
    from monitoring.monitor import MonitorResult

V = TypeVar("V")

#: what every run writes, whatever its checks
RUN_FILES = ("index.html", "summary.json")


def merged(parts: Iterable[Mapping[str, V]], what: str) -> dict[str, V]:
    """The parts' entries in order. Two parts may give one key only the same value (the two drift
    checks both give ``rows_compared``); anything else is a mistake in a check, said here rather
    than one figure silently replacing another."""
    found: dict[str, V] = {}
    for part in parts:
        for key, value in part.items():
            if key in found and found[key] != value:
                raise ValueError(f"two checks give the {what} {key!r} different values")
            found[key] = value
    return found


def prepare(out: Path, files: Iterable[str]) -> None:
    """Create ``out`` and remove an earlier run's ``files``, so that none is mistaken for this
    run's; a folder that cannot be written to is bad input (exit code 2)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in dict.fromkeys([*RUN_FILES, *files]):
            (out / name).unlink(missing_ok=True)
        probe = out / ".kykytutka-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise MonitorInputError(
            f"--out {out}: cannot write reports there ({exc.strerror})"
        ) from None


def write_reports(result: MonitorResult, config: MonitorConfig, out: Path) -> None:
    for check in result.checks.values():
        for name, table in check.tables.items():
            table.to_csv(out / f"{name}.csv", index=False)
    summary = merged(
        [
            {
                "status": "breached" if result.breaches else "within limits",
                "exit_code": result.exit_code,
                "breaches": result.breaches,
                "notes": result.notes(),
                "reference": result.reference.description,
                "current": result.current.description,
                "model": {"uri": result.model_uri, "version": result.model_version},
                "current_model_versions": result.current.model_versions,
            },
            *(check.summary for check in result.checks.values()),
            {
                "timings": result.timings,
                "metrics": result.metrics(),
                "config": config.model_dump(mode="json"),
            },
        ],
        "summary field",
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (out / "index.html").write_text(page(result), encoding="utf-8")


def _table(table: pd.DataFrame) -> str:
    return table.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="")


def page(result: MonitorResult) -> str:
    """index.html: the summary, links to the checks' own reports, then each check's tables."""
    links = merged((check.links for check in result.checks.values()), "link")
    shown = [
        table
        for check in result.checks.values()
        for table in ({**check.page_tables, **check.tables}).items()
    ]
    sections = "".join(
        f"<h2>{html.escape(name.replace('_', ' '))}</h2>{_table(table)}" for name, table in shown
    )
    anchors = " · ".join(
        f'<a href="{html.escape(file)}">{html.escape(title)}</a>' for file, title in links.items()
    )
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Kykytutka monitoring</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}</style>"
        f"<h1>Kykytutka monitoring</h1><pre>{html.escape(result.summary())}</pre><p>{anchors}</p>"
        f"{sections}</html>"
    )


def log_run(result: MonitorResult, config: MonitorConfig, out: Path) -> str:
    """One MLflow run: the status as a tag, every metric, the limits as parameters and the whole
    report folder as artefacts; returns its id."""
    import mlflow

    from models.registry import ensure_experiment, use_tracking

    client = use_tracking()
    experiment = ensure_experiment(client, config.experiment)
    name = f"monitor {datetime.now(UTC):%Y-%m-%d %H:%M}"
    params: dict[str, Any] = {
        "model_uri": result.model_uri,
        "sample_max_rows": config.sampling.max_rows,
    }
    params |= merged((check.params for check in result.checks.values()), "parameter")
    with mlflow.start_run(experiment_id=experiment, run_name=name) as run:
        mlflow.set_tags(
            {
                "kykytutka.status": "breached" if result.breaches else "within limits",
                "kykytutka.model_version": result.model_version,
                "kykytutka.reference": result.reference.description[:250],
                "kykytutka.current": result.current.description[:250],
            }
        )
        mlflow.log_params(params)
        mlflow.log_metrics(result.metrics())
        mlflow.log_artifacts(str(out))
        return str(run.info.run_id)
