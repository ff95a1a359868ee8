"""``kykytutka train``: the wiring of the training steps and MLflow.

The steps are the pure functions of ``training.steps`` (loading and splitting, baselines, model
selection, thresholds, fairness, the support-level model) and ``training.segmentation``; this
module orders them, logs what they return to MLflow and registers the model.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from data_contracts.booking import CONTRACT_VERSION
from models.alert import AlertModel
from models.evaluation import FairnessReport
from models.packaged import KykytutkaModel, ModelMetadata
from models.proxy import proxy_audit, proxy_breaches
from models.registry import (
    CHALLENGER,
    CHAMPION,
    MODEL_NAME,
    ModelNotAvailable,
    ensure_experiment,
    load_model,
    use_tracking,
)
from models.segmentation import SegmentationModel
from models.signature import input_example, model_signature
from training import report
from training.alert import HAND_RULE
from training.config import TrainConfig
from training.segmentation import fit_segmentation, segment_summary
from training.steps import (
    Split,
    check_fairness,
    data_fingerprint,
    evaluate_baselines,
    fit_support,
    labels,
    load_training_data,
    score_support,
    score_test_set,
    select_alert_model,
    set_thresholds,
    split_data,
)
from training.support import SupportEvaluation, SupportModelConfig


@dataclass
class TrainResult:
    run_id: str
    model_version: str | None
    metrics: dict[str, dict[str, float]]
    fairness_passed: bool
    fairness_breaches: list[str]
    proxy_breaches: list[str]
    segments: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    #: the recommended support level on the test set (``training.support.evaluate_support``)
    support: dict[str, float] = field(default_factory=dict)


def train(
    config: TrainConfig,
    data_file: Path | None = None,
    project_dir: Path | None = None,
    records: pd.DataFrame | None = None,
    source: str | None = None,
) -> TrainResult:
    """Train, evaluate and log one run. Data: ``records`` (labelled, validated) if given, else
    ``data_file``, else the configured file or synthetic cohorts."""
    timings: dict[str, float] = {}
    started = step = time.perf_counter()

    def timed(name: str) -> None:
        nonlocal step
        timings[name] = time.perf_counter() - step
        step = time.perf_counter()

    client = use_tracking(project_dir)
    experiment_id = ensure_experiment(client, config.experiment, project_dir)
    frame = records if records is not None else load_training_data(config, data_file)
    fingerprint = data_fingerprint(frame)
    parts = split_data(frame, config)
    timed("data_s")

    with mlflow.start_run(experiment_id=experiment_id, run_name=config.name) as parent:
        mlflow.set_tags(
            {
                "kykytutka.kind": "training",
                "kykytutka.config": config.name,
                "contract_version": CONTRACT_VERSION,
            }
        )
        mlflow.log_params(_flat_params(config))
        mlflow.log_params(
            {
                "data.fingerprint_sha256": fingerprint,
                "data.rows": len(frame),
                "data.rows_train": len(parts.train),
                "data.rows_calibration": len(parts.calibration),
                "data.rows_test": len(parts.test),
                "data.source": source or str(data_file or config.data.file or "synthetic"),
                "contract_version": CONTRACT_VERSION,
            }
        )

        all_metrics = evaluate_baselines(parts, config)
        for name, metrics in all_metrics.items():
            with mlflow.start_run(experiment_id=experiment_id, run_name=name, nested=True):
                mlflow.set_tags({"kykytutka.kind": "baseline", "kykytutka.config": config.name})
                if name == "hand_rule":
                    mlflow.set_tag("hand_rule", HAND_RULE)
                mlflow.log_metrics(metrics)
        timed("baselines_s")

        best, candidates = select_alert_model(parts, config)
        for candidate in candidates:
            with mlflow.start_run(experiment_id=experiment_id, run_name="lightgbm", nested=True):
                mlflow.set_tags({"kykytutka.kind": "candidate", "kykytutka.config": config.name})
                mlflow.log_params(candidate.config.model_dump())
                mlflow.log_metrics({f"validation_{k}": v for k, v in candidate.validation.items()})
        alert_model = best.model
        timed("alert_model_s")

        thresholds = set_thresholds(
            alert_model.predict_proba(parts.calibration), config.alert_capacity
        )
        alert_model.threshold = thresholds.alert
        metrics, test_probability = score_test_set(alert_model, parts.test, thresholds)
        all_metrics["lightgbm"] = metrics
        mlflow.log_metrics(metrics)
        mlflow.log_params({f"chosen.{k}": v for k, v in best.config.model_dump().items()})

        segmentation = fit_segmentation(
            parts.train,
            labels(parts.train),
            parts.train["support_level"].astype(object),
            candidates=config.segmentation.candidate_counts,
            sample_rows=config.segmentation.sample_rows,
            refits=config.segmentation.bootstrap_refits,
            seed=config.data.seed,
            reference=_champion_centroids(client),
        )
        summary = segment_summary(segmentation)
        mlflow.log_metrics({f"segments_{k}": float(v) for k, v in summary.items()})
        timed("segmentation_s")

        fairness = check_fairness(parts.test, test_probability >= thresholds.alert, config.fairness)
        mlflow.log_metric("fairness_passed", float(fairness.passed))
        for attribute, metric, difference in fairness.differences[
            ["attribute", "metric", "difference"]
        ].itertuples(index=False):
            mlflow.log_metric(f"fairness_{attribute}_{metric}_difference", float(difference))

        proxy = proxy_audit(parts.test, config.proxy.min_group_size, config.data.seed)
        proxy_found = proxy_breaches(proxy, config.proxy)
        mlflow.log_metric("proxy_passed", float(not proxy_found))
        timed("fairness_and_proxy_s")

        support, selection = fit_support(parts, alert_model, thresholds, config.data.seed)
        support_eval = score_support(
            support, alert_model, parts.test, thresholds, segmentation, selection
        )
        mlflow.log_params({f"support.{k}": v for k, v in SupportModelConfig().model_dump().items()})
        mlflow.log_metrics(support_eval.metrics)
        timed("support_model_s")

        metadata = ModelMetadata(
            alert_threshold=thresholds.alert,
            high_alert_threshold=thresholds.high,
            alert_capacity=config.alert_capacity,
            training_run=parent.info.run_id,
        )
        packaged = KykytutkaModel(alert_model, segmentation, metadata, support)
        _log_artefacts(
            config,
            parts,
            alert_model,
            segmentation,
            fairness,
            all_metrics,
            fingerprint,
            support_eval,
            proxy,
        )
        timed("artefacts_s")

        version = _register(
            client, config, packaged, parts, parent.info.run_id, fairness, fingerprint, proxy_found
        )
        timed("registration_s")
        timings["total_s"] = time.perf_counter() - started
        mlflow.log_metrics({f"time_{k}": v for k, v in timings.items()})
        return TrainResult(
            run_id=parent.info.run_id,
            model_version=version,
            metrics=all_metrics,
            fairness_passed=fairness.passed,
            fairness_breaches=fairness.breaches(),
            proxy_breaches=proxy_found,
            segments=summary,
            timings=timings,
            support=support_eval.metrics,
        )


def _register(
    client: Any,
    config: TrainConfig,
    packaged: KykytutkaModel,
    parts: Split,
    run_id: str,
    fairness: FairnessReport,
    fingerprint: str,
    proxy_found: list[str],
) -> str | None:
    """Log the packaged model; register it as the challenger with its provenance as tags."""
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=packaged,
        signature=model_signature(),
        input_example=input_example(parts.test.head(3)),
        pip_requirements=_pip_requirements(),
        registered_model_name=MODEL_NAME if config.register_model else None,
    )
    if not config.register_model:
        return None
    version = str(info.registered_model_version)
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    tags = {
        "contract_version": CONTRACT_VERSION,
        "run_id": run_id,
        "config": config.name,
        "fairness_passed": str(fairness.passed).lower(),
        "fairness_breaches": "; ".join(fairness.breaches())[:4000],
        "proxy_passed": str(not proxy_found).lower(),
        "proxy_breaches": "; ".join(proxy_found)[:4000],
        "data_fingerprint_sha256": fingerprint,
    }
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    return version


def _pip_requirements() -> list[str]:
    # Explicit so that logging never inspects the environment or the network; the model runs
    # wherever the kykytutka package (which pins the rest) is installed.
    from importlib.metadata import version

    return [
        f"{package}=={version(package)}"
        for package in ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "pandera")
    ]


def _champion_centroids(client: Any) -> pd.DataFrame | None:
    """The current champion's segment centroids, so that segment ids keep their meaning. A champion
    this version cannot load (registered by an older one) is passed over: ids start afresh."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException:
        return None
    try:
        champion = load_model(f"models:/{MODEL_NAME}/{version.version}")
    except ModelNotAvailable:
        return None
    return champion.segmentation.centroids


def _flat_params(config: TrainConfig) -> dict[str, Any]:
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = value

    walk("", config.model_dump(mode="json"))
    return flat


def _log_artefacts(
    config: TrainConfig,
    parts: Split,
    alert_model: AlertModel,
    segmentation: SegmentationModel,
    fairness: FairnessReport,
    all_metrics: dict[str, dict[str, float]],
    fingerprint: str,
    support: SupportEvaluation,
    proxy: pd.DataFrame,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        y_test = labels(parts.test)
        probability = alert_model.predict_proba(parts.test)
        report.calibration_plot(y_test, probability, out / "calibration.png")
        sample = parts.test.sample(min(5_000, len(parts.test)), random_state=config.data.seed)
        contributions = alert_model.contributions(sample).drop(columns="base_value")
        importance = report.shap_importance(contributions, out / "shap_importance.png")
        importance.to_csv(out / "shap_importance.csv", index=False)
        segmentation.profile_table().to_csv(out / "segments.csv", index=False)
        segmentation.selection.to_csv(out / "segment_count_selection.csv", index=False)
        fairness.table.to_csv(out / "fairness.csv", index=False)
        fairness.differences.to_csv(out / "fairness_differences.csv", index=False)
        (out / "metrics.json").write_text(json.dumps(all_metrics, indent=2), encoding="utf-8")
        parts.test.to_parquet(out / "test_set.parquet", index=False)
        report.write_support_tables(support, out)
        card = report.model_card(
            config=config,
            rows={
                "train": len(parts.train),
                "calibration": len(parts.calibration),
                "test": len(parts.test),
            },
            fingerprint=fingerprint,
            metrics=all_metrics,
            importance=importance,
            segmentation=segmentation,
            fairness=fairness,
            threshold=alert_model.threshold,
            support=support,
        )
        card += report.proxy_section(proxy)
        proxy.to_csv(out / "proxy_audit.csv", index=False)
        (out / "model_card.md").write_text(card, encoding="utf-8")
        mlflow.log_artifacts(str(out))
