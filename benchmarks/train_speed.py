"""Benchmark: train on one million synthetic booking records end to end (issue: under 5 minutes).

Generation, calibration, segmentation, SHAP summary, fairness, artefacts and registration into a
fresh SQLite MLflow store in a temporary folder. Prints what it measured (one run: on a shared
machine read the figures as indicative).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from training.config import TrainConfig
from training.train import train

ROWS_PER_REGION = 500_000  # two regions: one million records


def main() -> None:
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    config = TrainConfig.model_validate(
        {"name": "benchmark-1m", "data": {"rows_per_region": ROWS_PER_REGION, "seed": 1}}
    )
    with tempfile.TemporaryDirectory() as folder:
        previous = Path.cwd()
        os.chdir(folder)
        try:
            started = time.perf_counter()
            result = train(config, project_dir=Path(folder))
            wall = time.perf_counter() - started
        finally:
            os.chdir(previous)
    print(f"records: {2 * ROWS_PER_REGION:,}")
    for step, seconds in result.timings.items():
        print(f"  {step:18s} {seconds:7.1f} s")
    print(f"wall clock: {wall:.1f} s ({'under' if wall < 300 else 'OVER'} the 5-minute goal)")
    lgb = result.metrics["lightgbm"]
    print(
        f"test ROC AUC {lgb['roc_auc']:.4f} (true_risk {lgb.get('true_risk_roc_auc', float('nan')):.4f}),"
        f" PR AUC {lgb['pr_auc']:.4f}, logistic PR AUC {result.metrics['logistic']['pr_auc']:.4f}"
    )


if __name__ == "__main__":
    main()
