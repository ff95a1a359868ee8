"""Promotion and comparison of registered models."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from data_contracts.contract import BOOKING_COLUMNS, TARGET
from models.evaluation import classification_metrics
from models.registry import CHALLENGER, CHAMPION, MODEL_NAME, load_model

LOWER_IS_BETTER = {"brier", "ece"}


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    reason: str
    challenger_version: str | None = None
    champion_version: str | None = None
    challenger_score: float | None = None
    champion_score: float | None = None


def _version_by_alias(client: MlflowClient, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(MODEL_NAME, alias)
    except MlflowException:
        return None


def _test_set(client: MlflowClient, run_id: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, "test_set.parquet", folder)
        return pd.read_parquet(Path(path))


def score_version(version: str, records: pd.DataFrame, metric: str) -> float:
    model = load_model(f"models:/{MODEL_NAME}/{version}")
    assessed = model.predict(None, records[list(BOOKING_COLUMNS)])
    metrics = classification_metrics(
        records[TARGET].to_numpy(dtype=bool), assessed["alert_probability"].to_numpy(dtype=float)
    )
    return metrics[metric]


def promote(client: MlflowClient, metric: str = "pr_auc") -> PromotionDecision:
    """Move ``champion`` to the challenger if it passes the fairness limits and beats the champion
    on ``metric``, both scored on the challenger's held-out test set."""
    challenger = _version_by_alias(client, CHALLENGER)
    if challenger is None:
        return PromotionDecision(False, "no model has the alias 'challenger': train one first")
    tags = challenger.tags
    if tags.get("fairness_passed") != "true":
        breaches = tags.get("fairness_breaches") or "fairness not evaluated"
        return PromotionDecision(
            False,
            f"challenger version {challenger.version} breaches the fairness limits: {breaches}",
            challenger.version,
        )
    if tags.get("proxy_passed") != "true":
        breaches = tags.get("proxy_breaches") or "proxy audit not evaluated"
        return PromotionDecision(
            False,
            f"challenger version {challenger.version} breaches the proxy limits: {breaches}",
            challenger.version,
        )
    champion = _version_by_alias(client, CHAMPION)
    if champion is not None and champion.version == challenger.version:
        return PromotionDecision(
            False, f"version {challenger.version} is already the champion", challenger.version
        )
    records = _test_set(client, str(challenger.run_id))
    challenger_score = score_version(challenger.version, records, metric)
    if champion is None:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, challenger.version)
        return PromotionDecision(
            True,
            f"no champion yet: version {challenger.version} promoted "
            f"({metric} {challenger_score:.4f})",
            challenger.version,
            None,
            challenger_score,
        )
    champion_score = score_version(champion.version, records, metric)
    better = (
        challenger_score < champion_score
        if metric in LOWER_IS_BETTER
        else challenger_score > champion_score
    )
    if not better:
        return PromotionDecision(
            False,
            f"challenger version {challenger.version} does not beat champion version "
            f"{champion.version} on {metric}: {challenger_score:.4f} against {champion_score:.4f}",
            challenger.version,
            champion.version,
            challenger_score,
            champion_score,
        )
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, challenger.version)
    return PromotionDecision(
        True,
        f"version {challenger.version} promoted over version {champion.version}: {metric} "
        f"{challenger_score:.4f} against {champion_score:.4f}",
        challenger.version,
        champion.version,
        challenger_score,
        champion_score,
    )


COMPARE_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "recall_at_10pct",
    "roc_auc_gap_to_true_risk",
    "validation_pr_auc",
    "fairness_passed",
)


def compare_runs(client: MlflowClient, experiment: str) -> pd.DataFrame:
    """One row per run of the experiment: what it was and how it scored."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ValueError(f"no experiment named {experiment!r}")
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])
    rows = []
    for run in runs:
        row: dict[str, object] = {
            "run_id": run.info.run_id[:8],
            "parent": (run.data.tags.get("mlflow.parentRunId") or "")[:8],
            "config": run.data.tags.get("kykytutka.config", ""),
            "run": run.info.run_name,
            "kind": run.data.tags.get("kykytutka.kind", ""),
        }
        for name in COMPARE_METRICS:
            value = run.data.metrics.get(name)
            row[name] = round(value, 4) if value is not None else None
        rows.append(row)
    return pd.DataFrame(rows)
