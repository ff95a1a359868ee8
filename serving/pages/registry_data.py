"""What the auditors' model and monitoring pages show, read from MLflow (no HTML here).

- Models: every registered version of ``kykytutka`` with its aliases, the training run's metrics
  and the tables ``training/train.py`` logs beside the model card: ``fairness.csv`` (alert rate,
  TPR and FPR by sex, age band, first language and region), ``fairness_differences.csv``,
  ``proxy_audit.csv`` and ``model_card.md``. A table an older run lacks is left out.
- Monitoring: the runs ``monitoring/reports.log_run`` makes in ``kykytutka-monitoring``: the
  verdict (tag ``kykytutka.status``), the metrics (as trend series too) and the report folder
  (``index.html``, linking to Evidently's ``drift.html`` and ``quality.html``).

Aggregate figures only, no client's record. A run's artefacts never change: a training run's
tables are read once per process (bounded).
"""

from __future__ import annotations

import atexit
import csv
import io
import math
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from models.registry import MODEL_NAME, tracking_uri

#: ``monitoring.config.MonitorConfig.experiment`` (serving may not import monitoring)
MONITOR_EXPERIMENT = "kykytutka-monitoring"
#: the tag ``monitoring/reports.log_run`` gives each run: "within limits" or "breached"
STATUS_TAG = "kykytutka.status"
REPORT, CARD = "index.html", "model_card.md"
FAIRNESS, DIFFERENCES, PROXY = "fairness.csv", "fairness_differences.csv", "proxy_audit.csv"
#: rows of a group smaller than this are not shown (monitoring.checks.base.MIN_SHOWN_GROUP)
MIN_SHOWN_GROUP = 10
RUN_ID = re.compile(r"[0-9a-f]{32}")
#: a report the page may fetch: plain names below the run's root, no "..", no absolute path
HTML_PATH = re.compile(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*\.html")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf|nan)", re.IGNORECASE)

#: the trend charts, each series one metric whose whole name matches (as monitoring/checks/ log
#: them): drift distances (per feature, missing shares, prediction), alert rates, group gaps
#: (alert_rate_shift; outcome_fairness once outcomes are back), override shares and coverage
_PATTERNS = {
    "drift": r"prediction_drift|drift\.[\w\-]+|missing_share_change\.[\w\-]+",
    "alert_rate": r"alert_rate_reference|alert_rate_current",
    "group_gaps": r"(alert_rate_shift|true_positive_rate|false_positive_rate)_difference\..+",
    "override_rates": r"overrides\.(share|share\..+|share_difference\..+|feedback_coverage)",
}
TRENDS = {chart: re.compile(pattern) for chart, pattern in _PATTERNS.items()}

Cell = str | float | None


@dataclass(frozen=True)
class Table:
    title_key: str  # e.g. "fairness.sex", "fairness_differences", "proxy_audit"
    columns: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class ModelVersionView:
    version: str
    aliases: list[str]
    created: datetime  # UTC
    run_id: str | None
    status: str  # the registry's: READY, PENDING_REGISTRATION, FAILED_REGISTRATION
    #: the training run's metrics (test metrics, fairness_*_difference, fairness_passed, ...)
    metrics: dict[str, float]
    #: the version's tags: contract_version, fairness_passed, fairness_breaches, proxy_passed, ...
    tags: dict[str, str]
    #: one table per fairness attribute ("fairness.<attribute>"), then "fairness_differences"
    fairness: list[Table]
    proxy_audit: Table | None
    proxy_passed: bool | None
    model_card: str | None  # Markdown source


@dataclass(frozen=True)
class MonitorRunView:
    run_id: str
    name: str
    started: datetime  # UTC
    verdict: str | None  # the monitor's own: "within limits", "breached"; None if not logged
    run_status: str  # MLflow's: FINISHED, FAILED, RUNNING, ...
    model_version: str | None
    metrics: dict[str, float]
    report_path: str | None  # "index.html" when the run has it: the page links to it
    reports: list[str]  # every HTML file at the root of the run's artefacts (Evidently's too)


def default_client() -> MlflowClient:
    """A client on MLFLOW_TRACKING_URI (else ./mlflow.db); mlflow's global state is not touched."""
    uri = tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def model_versions(
    client: MlflowClient | None = None, name: str = MODEL_NAME
) -> list[ModelVersionView]:
    """Every registered version of ``name``, newest first; [] if no such model."""
    client = client or default_client()
    if "'" in name:  # would break out of the filter string
        return []
    found = client.search_model_versions(f"name = '{name}'")
    aliases = _aliases(client, name)
    views = [_version_view(client, v, aliases.get(str(v.version), [])) for v in found]
    return sorted(views, key=lambda v: int(v.version), reverse=True)


def model_version(
    version: str, client: MlflowClient | None = None, name: str = MODEL_NAME
) -> ModelVersionView | None:
    """One registered version, or None if it does not exist."""
    if not re.fullmatch(r"[0-9]{1,12}", version):
        return None
    version = str(int(version))
    client = client or default_client()
    try:
        found = client.get_model_version(name, version)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    return _version_view(client, found, _aliases(client, name).get(version, []))


def _aliases(client: MlflowClient, name: str) -> dict[str, list[str]]:
    try:
        registered = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return {}
        raise
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted(registered.aliases.items()):
        by_version.setdefault(str(version), []).append(alias)
    return by_version


def _version_view(
    client: MlflowClient, found: ModelVersion, aliases: list[str]
) -> ModelVersionView:
    run_id: str | None = found.run_id or None
    tags = {str(k): str(v) for k, v in (found.tags or {}).items()}
    metrics: dict[str, float] = {}
    fairness: list[Table] = []
    proxy_table, card = None, None
    if run_id:
        try:
            metrics = dict(sorted(client.get_run(run_id).data.metrics.items()))
        except MlflowException as exc:  # the run was deleted: show the version without it
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            run_id = None
        else:
            fairness, proxy_table, card = _training_artefacts(client.tracking_uri, run_id)
    proxy = tags.get("proxy_passed")
    if proxy is None and "proxy_passed" in metrics:
        proxy = str(metrics["proxy_passed"] == 1.0).lower()
    return ModelVersionView(
        version=str(found.version),
        aliases=aliases,
        created=datetime.fromtimestamp((found.creation_timestamp or 0) / 1000, tz=UTC),
        run_id=run_id,
        status=str(found.status or ""),
        metrics=metrics,
        tags=tags,
        fairness=list(fairness),
        proxy_audit=proxy_table,
        proxy_passed=None if proxy is None else proxy == "true",
        model_card=card,
    )


@lru_cache(maxsize=64)
def _training_artefacts(uri: str, run_id: str) -> tuple[list[Table], Table | None, str | None]:
    """The tables and card of one training run (read from files the run has; errors not cached)."""
    client = MlflowClient(tracking_uri=uri)
    present = {f.path for f in client.list_artifacts(run_id) if not f.is_dir}
    texts: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in (FAIRNESS, DIFFERENCES, PROXY, CARD):
            if name in present:
                local = client.download_artifacts(run_id, name, folder)
                texts[name] = Path(local).read_text(encoding="utf-8")
    fairness: list[Table] = []
    if FAIRNESS in texts:
        fairness += _by_attribute(_small_hidden(parse_csv(texts[FAIRNESS], "fairness")))
    if DIFFERENCES in texts:
        fairness.append(parse_csv(texts[DIFFERENCES], "fairness_differences"))
    proxy = _small_hidden(parse_csv(texts[PROXY], "proxy_audit")) if PROXY in texts else None
    return fairness, proxy, texts.get(CARD)


def parse_csv(text: str, title_key: str) -> Table:
    """A CSV table: a column whose every non-empty cell is a number holds floats (NaN as None),
    any other holds its texts; an empty cell is None."""
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        return Table(title_key, [], [])
    columns, body = lines[0], [row + [""] * (len(lines[0]) - len(row)) for row in lines[1:]]
    numeric = [all(NUMBER.fullmatch(r[i]) for r in body if r[i]) for i in range(len(columns))]
    rows = [[_cell(row[i], numeric[i]) for i in range(len(columns))] for row in body if any(row)]
    return Table(title_key, columns, rows)


def _cell(text: str, numeric: bool) -> Cell:
    if text == "":
        return None
    if not numeric:
        return text
    value = float(text)
    return None if math.isnan(value) else value


def _small_hidden(table: Table) -> Table:
    """Without the groups of fewer than MIN_SHOWN_GROUP (or an unknown number of) clients."""
    if "n" not in table.columns:
        return table
    at = table.columns.index("n")
    return Table(table.title_key, table.columns, [r for r in table.rows if _shown(r[at])])


def _shown(size: Cell) -> bool:
    return isinstance(size, str) or (size is not None and size >= MIN_SHOWN_GROUP)


def _by_attribute(table: Table) -> list[Table]:
    """``fairness.csv`` as one table per attribute (``fairness.<attribute>``), in logged order."""
    if "attribute" not in table.columns:
        return [table]
    at = table.columns.index("attribute")
    columns = [c for i, c in enumerate(table.columns) if i != at]
    groups: dict[str, list[list[Cell]]] = {}
    for row in table.rows:
        groups.setdefault(str(row[at]), []).append([c for i, c in enumerate(row) if i != at])
    return [Table(f"fairness.{name}", columns, rows) for name, rows in groups.items()]


def monitor_runs(
    client: MlflowClient | None = None, limit: int = 200, experiment: str = MONITOR_EXPERIMENT
) -> list[MonitorRunView]:
    """The latest ``limit`` monitoring runs, newest first; [] if monitoring never logged."""
    client = client or default_client()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs(
        [found.experiment_id],
        order_by=["attributes.start_time DESC"],
        max_results=max(1, min(limit, 10_000)),
    )
    views = []
    for run in runs:
        reports = sorted(
            f.path
            for f in client.list_artifacts(run.info.run_id)
            if not f.is_dir and f.path.endswith(".html")
        )
        if REPORT in reports:
            reports = [REPORT, *(r for r in reports if r != REPORT)]
        tags = run.data.tags
        views.append(
            MonitorRunView(
                run_id=run.info.run_id,
                name=run.info.run_name or "",
                started=datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
                verdict=tags.get(STATUS_TAG),
                run_status=str(run.info.status),
                model_version=tags.get("kykytutka.model_version"),
                metrics=dict(sorted(run.data.metrics.items())),
                report_path=REPORT if REPORT in reports else None,
                reports=reports,
            )
        )
    return views


def monitor_trends(runs: list[MonitorRunView]) -> dict[str, dict[str, list[float | None]]]:
    """Per chart, one series per metric, oldest run first; None where a run lacks the metric."""
    ordered = sorted(runs, key=lambda run: run.started)
    names = sorted({name for run in ordered for name in run.metrics})
    trends: dict[str, dict[str, list[float | None]]] = {}
    for chart, pattern in TRENDS.items():
        trends[chart] = {
            name: [_finite(run.metrics.get(name)) for run in ordered]
            for name in names
            if pattern.fullmatch(name)
        }
    return trends


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def report_file(
    run_id: str,
    artifact_path: str,
    client: MlflowClient | None = None,
    cache_dir: Path | None = None,
    experiment: str = MONITOR_EXPERIMENT,
) -> Path | None:
    """The local copy of an HTML report of a monitoring run, or None: not a run id, not a
    monitoring run, not a plain relative ``.html`` path, or not a file the run has."""
    if not RUN_ID.fullmatch(run_id) or len(artifact_path) > 200:
        return None
    if not HTML_PATH.fullmatch(artifact_path):
        return None
    client = client or default_client()
    try:
        run = client.get_run(run_id)
        monitoring = client.get_experiment_by_name(experiment)
        if monitoring is None or run.info.experiment_id != monitoring.experiment_id:
            return None
        parent = artifact_path.rpartition("/")[0] or None
        listed = {f.path for f in client.list_artifacts(run_id, parent) if not f.is_dir}
    except MlflowException:
        return None
    if artifact_path not in listed:
        return None
    target = (cache_dir or _cache_dir()) / run_id / artifact_path
    if target.is_file():  # a run's artefacts never change
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = tempfile.mkdtemp(dir=target.parent, prefix=".download-")
    try:
        local = client.download_artifacts(run_id, artifact_path, staging)
        Path(local).replace(target)  # atomic: a concurrent reader sees no half-written file
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@lru_cache(maxsize=1)
def _cache_dir() -> Path:
    """This process's own folder for downloaded reports (0700, removed at exit)."""
    folder = tempfile.mkdtemp(prefix="kykytutka-reports-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder)
