"""A small trained alert model shared by the behaviour tests (seconds, not minutes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.alert import AlertModel
from models.evaluation import capacity_threshold
from synthetic.cohort import generate_cohort
from training.alert import fit_alert_model
from training.config import AlertModelConfig, TrainConfig
from training.steps import Split, split_data


@pytest.fixture(scope="session")
def cohort() -> pd.DataFrame:
    return pd.concat(
        # large enough that model differences are not sampling noise (135,000 training rows)
        [generate_cohort("pirkanmaa", 150_000, 3), generate_cohort("etela-pohjanmaa", 75_000, 3)],
        ignore_index=True,
    )


@pytest.fixture(scope="session")
def parts(cohort: pd.DataFrame) -> Split:
    return split_data(cohort, TrainConfig(name="behaviour"))


@pytest.fixture(scope="session")
def alert_model(parts: Split) -> AlertModel:
    y = parts.train["needs_support"].to_numpy(dtype=bool)
    y_cal = parts.calibration["needs_support"].to_numpy(dtype=bool)
    model = fit_alert_model(parts.train, y, parts.calibration, y_cal, AlertModelConfig(), seed=0)
    probability = model.predict_proba(parts.calibration)
    model.threshold = capacity_threshold(probability, 0.10)
    return model


@pytest.fixture(scope="session")
def sample(parts: Split) -> pd.DataFrame:
    return parts.test.sample(300, random_state=np.random.RandomState(0)).reset_index(drop=True)
