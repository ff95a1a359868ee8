"""Benchmark: generate one million synthetic booking records and write them (issue: under a minute).

Prints what it measured; one run, so read the figures as indicative on a shared machine.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from kykytutka.cli import write_frame
from synthetic.cohort import generate_cohort

ROWS = 1_000_000


def main() -> None:
    started = time.perf_counter()
    frame = generate_cohort("pirkanmaa", ROWS, seed=1)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        for suffix in (".parquet", ".csv"):
            started = time.perf_counter()
            write_frame(frame, Path(folder) / f"cohort{suffix}")
            print(f"write {suffix:8s} {time.perf_counter() - started:6.1f} s")
    print(f"generate {ROWS:,} rows {generated:6.1f} s")


if __name__ == "__main__":
    main()
