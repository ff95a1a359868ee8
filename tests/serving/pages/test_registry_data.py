"""The data behind the auditors' model and monitoring pages, read from a real MLflow store: the
session's trained and promoted champion, and two monitoring runs against it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from models.registry import CHAMPION, use_tracking
from monitoring.config import MonitorConfig
from monitoring.monitor import monitor
from serving.pages.registry_data import (
    MIN_SHOWN_GROUP,
    MonitorRunView,
    Table,
    _small_hidden,
    model_version,
    model_versions,
    monitor_runs,
    monitor_trends,
    parse_csv,
    report_file,
)
from synthetic.cohort import generate_cohort
from tests.projects import inside_project

pytestmark = [pytest.mark.code]

#: the checks that need no audit store, but the proxy audit's model (slow, not read here)
CHECKS = ("feature_drift", "prediction_drift", "quality", "alert_rate_shift", "outcome_fairness")


def client_on(project: Path) -> MlflowClient:
    uri = f"sqlite:///{project / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@dataclass
class Monitored:
    client: MlflowClient
    training_run: str
    run_ids: list[str]  # in the order they ran


@pytest.fixture(scope="module")
def monitored(
    champion_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Monitored]:
    """Two monitoring runs in a copy of the champion's store (the session's store untouched: the
    copy's registry still points at the champion's artefacts, read only)."""
    folder = tmp_path_factory.mktemp("pages-monitoring")
    shutil.copy2(champion_project / "mlflow.db", folder / "mlflow.db")
    training_run = client_on(folder).get_model_version_by_alias("kykytutka", CHAMPION).run_id
    assert training_run
    config = MonitorConfig(checks=CHECKS)
    run_ids = []
    saved = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with inside_project(folder):
        use_tracking(folder)
        for seed, region in ((21, "pirkanmaa"), (22, "etela-pohjanmaa")):
            current = folder / f"{region}.parquet"
            generate_cohort(region, 3_000, seed=seed).to_parquet(current, index=False)
            result = monitor(
                training_run,
                str(current),
                folder / f"report-{region}",
                config,
                "models:/kykytutka@champion",
                f"sqlite:///{folder / 'unused-audit.db'}",
            )
            assert result.mlflow_run_id, result.mlflow_error
            run_ids.append(result.mlflow_run_id)
    mlflow.set_tracking_uri(saved[0])  # as other tests found it
    mlflow.set_registry_uri(saved[1])
    yield Monitored(client_on(folder), training_run, run_ids)


@pytest.mark.slow  # trains a champion
def test_the_registered_versions_with_aliases_metrics_tables_and_card(
    champion_project: Path,
) -> None:
    versions = model_versions(client_on(champion_project))
    assert versions, "the champion is registered"
    assert [int(v.version) for v in versions] == sorted(
        (int(v.version) for v in versions), reverse=True
    )
    champion = next(v for v in versions if CHAMPION in v.aliases)
    assert champion.run_id and len(champion.run_id) == 32
    assert champion.status == "READY"
    assert champion.created.tzinfo is UTC
    assert abs(datetime.now(UTC) - champion.created) < timedelta(days=1)
    assert {"pr_auc", "roc_auc", "fairness_passed"} <= champion.metrics.keys()
    assert all(isinstance(value, float) for value in champion.metrics.values())
    assert champion.tags["run_id"] == champion.run_id
    # One subgroup table per fairness attribute, with TPR, FPR and alert rate by group.
    tables = {table.title_key: table for table in champion.fairness}
    assert {
        "fairness.sex",
        "fairness.age_band",
        "fairness.first_language",
        "fairness.region",
        "fairness_differences",
    } <= tables.keys()
    by_age = tables["fairness.age_band"]
    assert by_age.columns[0] == "group"
    assert {"alert_rate", "true_positive_rate", "false_positive_rate", "n"} <= set(by_age.columns)
    assert {"under 30", "60+"} <= {row[0] for row in by_age.rows}
    rate = by_age.columns.index("alert_rate")
    rates = [row[rate] for row in by_age.rows]
    assert all(isinstance(value, float) and 0 <= value <= 1 for value in rates)
    assert {"female", "male"} <= {row[0] for row in tables["fairness.sex"].rows}
    groups = [t for t in champion.fairness if t.title_key.startswith("fairness.")]
    sizes = [row[t.columns.index("n")] for t in groups for row in t.rows]
    assert all(isinstance(n, float) and n >= MIN_SHOWN_GROUP for n in sizes)
    # The proxy audit as logged, with its verdict; the model card as Markdown.
    assert champion.proxy_audit is not None
    assert {"feature", "attribute", "auc"} <= set(champion.proxy_audit.columns)
    assert champion.proxy_audit.rows
    assert champion.proxy_passed is not None
    assert champion.model_card and champion.model_card.lstrip().startswith("#")
    # One version by its number, the same; an unknown or malformed one is None.
    again = model_version(champion.version, client_on(champion_project))
    assert again is not None and again.aliases == champion.aliases
    assert again.fairness == champion.fairness
    assert model_version("999", client_on(champion_project)) is None
    assert model_version("1; drop", client_on(champion_project)) is None
    assert model_versions(client_on(champion_project), name="no-such-model") == []


@pytest.mark.slow  # trains a champion and runs the monitor twice
def test_the_monitor_runs_newest_first_with_their_reports_and_trends(
    monitored: Monitored,
) -> None:
    runs = monitor_runs(monitored.client)
    assert [run.run_id for run in runs] == monitored.run_ids[::-1]
    assert runs[0].started >= runs[1].started
    for run in runs:
        assert run.verdict in {"within limits", "breached"}
        assert run.run_status == "FINISHED"
        assert run.report_path == "index.html"
        assert run.reports[0] == "index.html" and "drift.html" in run.reports
        assert {"prediction_drift", "alert_rate_current"} <= run.metrics.keys()
        assert run.model_version
    assert len(monitor_runs(monitored.client, limit=1)) == 1
    assert monitor_runs(monitored.client, experiment="nothing-here") == []

    trends = monitor_trends(runs)
    assert set(trends) == {"drift", "alert_rate", "group_gaps", "override_rates"}
    assert "prediction_drift" in trends["drift"]
    assert any(name.startswith("drift.") for name in trends["drift"])
    assert set(trends["alert_rate"]) == {"alert_rate_reference", "alert_rate_current"}
    assert any(name.startswith("alert_rate_shift_difference.") for name in trends["group_gaps"])
    assert "drifted_features" not in trends["drift"]  # a count, not a distance
    series = [values for chart in trends.values() for values in chart.values()]
    assert series and {len(values) for values in series} == {2}
    # Oldest first: the first point is the first run's.
    first = runs[-1].metrics["prediction_drift"]
    assert trends["drift"]["prediction_drift"][0] == pytest.approx(first)


@pytest.mark.slow  # trains a champion and runs the monitor twice
def test_report_file_serves_only_the_html_a_monitor_run_has(
    monitored: Monitored, tmp_path: Path
) -> None:
    run = monitored.run_ids[-1]
    page = report_file(run, "index.html", monitored.client, cache_dir=tmp_path)
    assert page is not None and page.is_relative_to(tmp_path)
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert report_file(run, "index.html", monitored.client, cache_dir=tmp_path) == page
    drift = report_file(run, "drift.html", monitored.client, cache_dir=tmp_path)
    assert drift is not None and drift.stat().st_size > 0
    refused = [
        (run, "../index.html"),
        (run, "./index.html"),
        (run, "/etc/passwd.html"),
        (run, "reports\\index.html"),
        (run, "%2e%2e/index.html"),
        (run, "summary.json"),  # the run has it, but not HTML
        (run, "missing.html"),
        (run, "index.html/"),
        ("not-a-run-id", "index.html"),
        (run.upper(), "index.html"),
        ("0" * 32, "index.html"),
        (monitored.training_run, "model_card.md"),
        (monitored.training_run, "index.html"),  # a run, but not a monitoring run
    ]
    for run_id, path in refused:
        assert report_file(run_id, path, monitored.client, cache_dir=tmp_path) is None, path


def test_trends_are_oldest_first_with_gaps_where_a_run_lacks_a_metric() -> None:
    def run(minute: int, metrics: dict[str, float]) -> MonitorRunView:
        started = datetime(2026, 11, 1, 12, minute, tzinfo=UTC)
        return MonitorRunView(
            f"{minute:032x}", "monitor", started, "within limits", "FINISHED", "1", metrics,
            "index.html", ["index.html"],
        )  # fmt: skip

    newest = run(2, {"drift.age": 0.2, "overrides.share": 0.1, "overrides.cards": 40.0})
    oldest = run(1, {"drift.age": 0.1, "true_positive_rate_difference.sex": 0.05})
    trends = monitor_trends([newest, oldest])
    assert trends["drift"] == {"drift.age": [0.1, 0.2]}
    assert trends["group_gaps"] == {"true_positive_rate_difference.sex": [0.05, None]}
    assert trends["override_rates"] == {"overrides.share": [None, 0.1]}  # not the count
    assert trends["alert_rate"] == {}
    assert monitor_trends([]) == {
        "drift": {},
        "alert_rate": {},
        "group_gaps": {},
        "override_rates": {},
    }


def test_csv_cells_are_numbers_in_numeric_columns_and_text_elsewhere() -> None:
    text = "attribute,group,n,rate,passed\nsex,female,10,0.5,True\nsex,male,12,,False\n"
    assert parse_csv(text, "t") == Table(
        "t",
        ["attribute", "group", "n", "rate", "passed"],
        [["sex", "female", 10.0, 0.5, "True"], ["sex", "male", 12.0, None, "False"]],
    )
    assert parse_csv("group,n\n1,nan\nx,2\n", "t").rows == [["1", None], ["x", 2.0]]
    assert parse_csv("", "t") == Table("t", [], [])


def test_groups_too_small_to_show_are_left_out() -> None:
    table = parse_csv("group,n,rate\nbig,10,0.5\nsmall,9,1.0\nunknown,,0.1\n", "t")
    assert [row[0] for row in _small_hidden(table).rows] == ["big"]
    assert _small_hidden(parse_csv("group,rate\na,1\n", "t")).rows == [["a", 1.0]]
