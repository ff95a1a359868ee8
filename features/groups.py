"""The groups fairness is measured over, derived from the contract's ``fairness_group`` fields."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_contracts.contract import FAIRNESS_GROUPS

#: Age bands for fairness monitoring (age is protected: never a model input; its bands are compared).
AGE_BAND_EDGES: tuple[int, ...] = (30, 40, 50, 60)
AGE_BANDS: tuple[str, ...] = ("under 30", "30-39", "40-49", "50-59", "60+")


def age_band(age: pd.Series) -> pd.Categorical:
    values = pd.to_numeric(age, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    codes = np.digitize(values, AGE_BAND_EDGES)
    codes[np.isnan(values)] = -1
    dtype: pd.CategoricalDtype = pd.CategoricalDtype(list(AGE_BANDS), ordered=True)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def fairness_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """One column per fairness attribute (age as ``age_band``), as plain strings."""
    columns: dict[str, pd.Series] = {}
    for name in FAIRNESS_GROUPS:
        if name == "age":
            columns["age_band"] = pd.Series(age_band(frame[name]), index=frame.index).astype(str)
        else:
            columns[name] = frame[name].astype(str)
    return pd.DataFrame(columns, index=frame.index)
