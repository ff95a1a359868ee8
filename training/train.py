"""``kykytutka train``: fit, evaluate, explain, check fairness, log and register one model in MLflow.

The wiring only: the steps are the pure functions of ``training.alert``, ``training.segmentation`` and
``training.evaluation``; this module orders them and talks to MLflow.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from data_contracts.booking import CONTRACT_VERSION
from data_contracts.contract import TARGET, TRUE_RISK
from data_contracts.validation import load_bookings
from features.groups import fairness_groups
from kykytutka.model import CHALLENGER, MODEL_NAME, KykytutkaModel, ModelMetadata
from training import report
from training.alert import HAND_RULE, AlertModel, HandRuleBaseline, LogisticBaseline
from training.config import AlertModelConfig, TrainConfig
from training.evaluation import (
    FairnessReport,
    capacity_threshold,
    classification_metrics,
    fairness_report,
)
from training.segmentation import SegmentationModel, fit_segmentation, segment_summary
from training.signature import input_example, model_signature
from training.tracking import ensure_experiment, use_tracking

PIP_REQUIREMENTS_NOTE = "the kykytutka package (installed by `make install`)"


@dataclass
class TrainResult:
    run_id: str
    model_version: str | None
    metrics: dict[str, dict[str, float]]
    fairness_passed: bool
    fairness_breaches: list[str]
    segments: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Split:
    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame


def load_training_data(config: TrainConfig, data_file: Path | None = None) -> pd.DataFrame:
    """Labelled booking records from a file, or synthetic cohorts as configured."""
    source = data_file or config.data.file
    if source is not None:
        frame = load_bookings(source, labelled=True)
        if TARGET not in frame:
            raise ValueError(f"{source}: no {TARGET} column; training needs outcomes")
        return frame[frame[TARGET].notna()].reset_index(drop=True)
    from synthetic.cohort import generate_cohort

    parts = [
        generate_cohort(region, config.data.rows_per_region, config.data.seed)
        for region in config.data.regions
    ]
    return pd.concat(parts, ignore_index=True)


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 of the training frame's values, logged so a run can be tied to its data."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def split_data(frame: pd.DataFrame, config: TrainConfig) -> Split:
    """Stratified on the outcome, reproducible from the seed."""
    rng = np.random.default_rng(config.data.seed + 1)
    y = frame[TARGET].to_numpy(dtype=bool)
    position = np.empty(len(frame))
    for value in (True, False):
        members = np.flatnonzero(y == value)
        position[members] = rng.permutation(len(members)) / max(1, len(members))
    test = position < config.data.test_share
    calibration = ~test & (position < config.data.test_share + config.data.calibration_share)
    train = ~test & ~calibration
    return Split(frame[train], frame[calibration], frame[test])


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[TARGET].to_numpy(dtype=bool)


def _true_risk(frame: pd.DataFrame) -> np.ndarray | None:
    if TRUE_RISK in frame and frame[TRUE_RISK].notna().all():
        return frame[TRUE_RISK].to_numpy(dtype=float)
    return None


def _grid(config: TrainConfig) -> list[AlertModelConfig]:
    if not config.search:
        return [config.alert]
    names = list(config.search)
    return [
        AlertModelConfig.model_validate(
            {**config.alert.model_dump(), **dict(zip(names, values, strict=True))}
        )
        for values in itertools.product(*(config.search[n] for n in names))
    ]


def _metric_for_selection(metrics: dict[str, float], name: str) -> float:
    return -metrics[name] if name == "brier" else metrics[name]


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
    started = time.perf_counter()
    client = use_tracking(project_dir)
    experiment_id = ensure_experiment(client, config.experiment, project_dir)
    frame = records if records is not None else load_training_data(config, data_file)
    fingerprint = data_fingerprint(frame)
    parts = split_data(frame, config)
    y_train, y_cal, y_test = (_labels(p) for p in (parts.train, parts.calibration, parts.test))
    truth = _true_risk(parts.test)
    timings["data_s"] = time.perf_counter() - started

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
        all_metrics: dict[str, dict[str, float]] = {}

        step = time.perf_counter()
        for name, baseline in (
            ("hand_rule", HandRuleBaseline.fit(parts.train)),
            ("logistic", LogisticBaseline.fit(parts.train, y_train, config.alert.logistic_c)),
        ):
            metrics = classification_metrics(y_test, baseline.predict_proba(parts.test), truth)
            all_metrics[name] = metrics
            with mlflow.start_run(experiment_id=experiment_id, run_name=name, nested=True):
                mlflow.set_tags({"kykytutka.kind": "baseline", "kykytutka.config": config.name})
                if name == "hand_rule":
                    mlflow.set_tag("hand_rule", HAND_RULE)
                mlflow.log_metrics(metrics)
        timings["baselines_s"] = time.perf_counter() - step

        step = time.perf_counter()
        best: tuple[float, AlertModel, AlertModelConfig] | None = None
        for candidate in _grid(config):
            model = AlertModel.fit(
                parts.train, y_train, parts.calibration, y_cal, candidate, config.data.seed
            )
            validation = classification_metrics(y_cal, model.predict_proba(parts.calibration))
            score = _metric_for_selection(validation, config.promotion_metric)
            with mlflow.start_run(experiment_id=experiment_id, run_name="lightgbm", nested=True):
                mlflow.set_tags({"kykytutka.kind": "candidate", "kykytutka.config": config.name})
                mlflow.log_params(candidate.model_dump())
                mlflow.log_metrics({f"validation_{k}": v for k, v in validation.items()})
            if best is None or score > best[0]:
                best = (score, model, candidate)
        assert best is not None
        _, alert_model, chosen = best
        timings["alert_model_s"] = time.perf_counter() - step

        calibration_probability = alert_model.predict_proba(parts.calibration)
        threshold = capacity_threshold(calibration_probability, config.alert_capacity)
        high = capacity_threshold(calibration_probability, config.alert_capacity / 2)
        alert_model.threshold = threshold
        test_probability = alert_model.predict_proba(parts.test)
        metrics = classification_metrics(y_test, test_probability, truth)
        metrics["alert_threshold"] = threshold
        metrics["alert_rate_test"] = float((test_probability >= threshold).mean())
        all_metrics["lightgbm"] = metrics
        mlflow.log_metrics(metrics)
        mlflow.log_params({f"chosen.{k}": v for k, v in chosen.model_dump().items()})

        step = time.perf_counter()
        reference = _champion_centroids(client)
        segmentation = fit_segmentation(
            parts.train,
            y_train,
            parts.train["support_level"].astype(object),
            candidates=config.segmentation.candidate_counts,
            sample_rows=config.segmentation.sample_rows,
            refits=config.segmentation.bootstrap_refits,
            seed=config.data.seed,
            reference=reference,
        )
        summary = segment_summary(segmentation)
        mlflow.log_metrics({f"segments_{k}": float(v) for k, v in summary.items()})
        timings["segmentation_s"] = time.perf_counter() - step

        fairness = fairness_report(
            y_test,
            test_probability >= threshold,
            fairness_groups(parts.test),
            config.fairness.max_true_positive_rate_difference,
            config.fairness.max_false_positive_rate_difference,
            config.fairness.min_group_size,
            config.fairness.min_group_positives,
        )
        mlflow.log_metric("fairness_passed", float(fairness.passed))
        for attribute, metric, difference in fairness.differences[
            ["attribute", "metric", "difference"]
        ].itertuples(index=False):
            mlflow.log_metric(f"fairness_{attribute}_{metric}_difference", float(difference))

        step = time.perf_counter()
        metadata = ModelMetadata(
            alert_threshold=threshold,
            high_alert_threshold=high,
            alert_capacity=config.alert_capacity,
            training_run=parent.info.run_id,
        )
        packaged = KykytutkaModel(alert_model, segmentation, metadata)
        _log_artefacts(config, parts, alert_model, segmentation, fairness, all_metrics, fingerprint)
        timings["artefacts_s"] = time.perf_counter() - step

        step = time.perf_counter()
        version = None
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=packaged,
            signature=model_signature(),
            input_example=input_example(parts.test.head(3)),
            pip_requirements=_pip_requirements(),
            registered_model_name=MODEL_NAME if config.register_model else None,
        )
        if config.register_model:
            version = str(info.registered_model_version)
            client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
            tags = {
                "contract_version": CONTRACT_VERSION,
                "run_id": parent.info.run_id,
                "config": config.name,
                "fairness_passed": str(fairness.passed).lower(),
                "fairness_breaches": "; ".join(fairness.breaches())[:4000],
                "data_fingerprint_sha256": fingerprint,
            }
            for key, value in tags.items():
                client.set_model_version_tag(MODEL_NAME, version, key, value)
        timings["registration_s"] = time.perf_counter() - step
        timings["total_s"] = time.perf_counter() - started
        mlflow.log_metrics({f"time_{k}": v for k, v in timings.items()})
        return TrainResult(
            run_id=parent.info.run_id,
            model_version=version,
            metrics=all_metrics,
            fairness_passed=fairness.passed,
            fairness_breaches=fairness.breaches(),
            segments=summary,
            timings=timings,
        )


def _pip_requirements() -> list[str]:
    # Explicit so that logging never inspects the environment or the network; the model runs
    # wherever the kykytutka package (which pins the rest) is installed.
    from importlib.metadata import version

    return [
        f"{package}=={version(package)}"
        for package in ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "pandera")
    ]


def _champion_centroids(client: Any) -> pd.DataFrame | None:
    """The current champion's segment centroids, so that segment ids keep their meaning."""
    from mlflow.exceptions import MlflowException

    from kykytutka.model import CHAMPION

    try:
        version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException:
        return None
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{version.version}")
    champion: KykytutkaModel = model.unwrap_python_model()
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
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        y_test = _labels(parts.test)
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
        )
        (out / "model_card.md").write_text(card, encoding="utf-8")
        mlflow.log_artifacts(str(out))
