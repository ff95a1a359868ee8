"""Benchmark: one monitoring run, one million reference rows against 200,000 current rows
(issue: under 2 minutes), end to end through the CLI as cron would run it.

1. Trains and promotes a model (default hyperparameters, 50,000 rows per region) in a temporary
   project, and writes the two booking files: Pirkanmaa as the reference, Etelä-Pohjanmaa (with
   outcomes) as the current population.
2. Times `kykytutka monitor` as a fresh process (imports and model loading included), logging to
   MLflow as in production, and prints where the time went (summary.json's timings).

One run on a shared 2-core machine: read the figures as indicative. `make bench-monitor` runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.champion import train_champion
from synthetic.cohort import generate_cohort

REFERENCE_ROWS = 1_000_000
CURRENT_ROWS = 200_000
GOAL_SECONDS = 120


def main() -> None:
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        train_champion(project)
        generate_cohort("pirkanmaa", REFERENCE_ROWS, seed=101).to_parquet(
            project / "reference.parquet", index=False
        )
        generate_cohort("etela-pohjanmaa", CURRENT_ROWS, seed=102).to_parquet(
            project / "current.parquet", index=False
        )
        command = [
            str(Path(sys.executable).parent / "kykytutka"), "monitor",
            "--reference", "reference.parquet", "--current", "current.parquet",
            "--out", "report",
        ]  # fmt: skip
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=project, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if finished.returncode not in (0, 1):
            raise SystemExit(f"monitor failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
        summary = json.loads((project / "report" / "summary.json").read_text())
    print(finished.stdout.strip())
    print(f"\nreference {REFERENCE_ROWS:,} rows, current {CURRENT_ROWS:,} rows; Evidently compared")
    print(f"samples of {summary['rows_compared'][0]:,} and {summary['rows_compared'][1]:,} rows")
    print("where the time went (inside the job):")
    for step, seconds in summary["timings"].items():
        print(f"  {step:14s} {seconds:6.1f} s")
    verdict = "under" if wall < GOAL_SECONDS else "OVER"
    print(f"wall clock, whole process: {wall:.1f} s ({verdict} the {GOAL_SECONDS} s goal)")


if __name__ == "__main__":
    main()
