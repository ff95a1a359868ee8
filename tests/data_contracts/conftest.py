"""Shared fixtures: a tiny generated cohort written as CSV, and helpers to corrupt one cell of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from kykytutka.cli import write_frame
from synthetic.cohort import generate_cohort


@pytest.fixture(scope="session")
def tiny_cohort() -> pd.DataFrame:
    """Twenty labelled booking records, typed as the contract says (never mutate it)."""
    return generate_cohort("pirkanmaa", 20, seed=1)


@pytest.fixture
def bookings_csv(tmp_path: Path, tiny_cohort: pd.DataFrame) -> Path:
    """The tiny cohort as a valid CSV file, written the way `kykytutka synth` writes it."""
    path = tmp_path / "bookings.csv"
    write_frame(tiny_cohort, path)
    return path


@pytest.fixture
def raw_bookings(bookings_csv: Path) -> pd.DataFrame:
    """The valid CSV as text cells ("" for missing): a fresh copy for each test to corrupt."""
    return pd.read_csv(bookings_csv, dtype=str, keep_default_na=False)


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[pd.DataFrame], Path]:
    """Write a frame of text cells as a CSV file and return its path."""

    def write(frame: pd.DataFrame, name: str = "corrupted.csv") -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path

    return write


@pytest.fixture
def corrupt_cell(
    raw_bookings: pd.DataFrame, write_csv: Callable[[pd.DataFrame], Path]
) -> Callable[[str, int, str], Path]:
    """The valid CSV with one cell replaced; ``row`` counts data rows from 1, as reports do."""

    def corrupt(column: str, row: int, value: str) -> Path:
        frame = raw_bookings.copy()
        frame.loc[frame.index[row - 1], column] = value
        return write_csv(frame)

    return corrupt
