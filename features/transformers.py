"""The feature pipeline: booking records in, model features out.

Training, serving, batch scoring and monitoring all use ``BookingFeatures`` unchanged. It reads only
the contract's model features (``data_contracts.contract.MODEL_FEATURES``), so identifiers, context and
protected attributes can be in the frame and still never reach a model.

Every column is computed from ``features.spec``: thresholds, band edges and monotone directions are
written there once. One core (``encode`` then ``derive``) serves every caller: training frames, the
API's validated records and the registered model's ``predict``.

The small numeric transformers (``ThresholdIndicator``, ``OrdinalBander``) are plain scikit-learn
estimators that work on any 2-D array; ``BookingFeatures`` composes them by field name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from data_contracts.contract import FIELDS_BY_NAME, MODEL_FEATURES
from features.spec import FEATURES, NOT_ASKED_BAND, FeatureSpec, feature_categories


def threshold_flags(X: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """1.0 where a value reaches its column's threshold, 0.0 below, NaN where missing."""
    flags: np.ndarray = np.greater_equal(X, thresholds).astype(np.float64)
    flags[np.isnan(X)] = np.nan
    return flags


def band_index(X: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The band of each value (0 below the first edge ...); NaN gets its own band len(edges) + 1."""
    bands: np.ndarray = np.digitize(X, edges).astype(np.float64)
    bands[np.isnan(X)] = len(edges) + 1
    return bands


class ThresholdIndicator(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """1.0 where a value reaches its column's threshold, 0.0 below it; a missing value stays missing."""

    def __init__(self, thresholds: Sequence[float] = (0.0,)) -> None:
        self.thresholds = thresholds

    def fit(self, X: Any, y: Any = None) -> ThresholdIndicator:
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        thresholds = np.asarray(self.thresholds, dtype=np.float64)
        if thresholds.ndim != 1 or len(thresholds) not in (1, X.shape[1]):
            raise ValueError(
                f"thresholds has {thresholds.size} values; give one, or one per column "
                f"({X.shape[1]})"
            )
        self.thresholds_ = np.broadcast_to(thresholds, (X.shape[1],)).copy()
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return threshold_flags(X, self.thresholds_)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class OrdinalBander(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """The band index of each value: 0 below the first edge, 1 up to the second, and so on.

    A missing value gets the band index ``len(edges) + 1`` (its own band, "not asked").
    """

    def __init__(self, edges: Sequence[float] = (0.0,)) -> None:
        self.edges = edges

    def fit(self, X: Any, y: Any = None) -> OrdinalBander:
        validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        edges = np.asarray(self.edges, dtype=np.float64)
        if edges.ndim != 1 or edges.size == 0 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"edges must be a non-empty increasing sequence, got {self.edges!r}")
        self.edges_ = edges
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return band_index(X, self.edges_)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def encode_column(name: str, values: Any) -> np.ndarray:
    """One contract feature field as floats: numbers as they are, categories as their contract
    code, booleans as 0/1, missing as NaN. ``values``: a list of Python values (validated records)
    or a column of a validated booking frame."""
    field = FIELDS_BY_NAME[name]
    if isinstance(values, pd.Series):
        if field.kind == "category":
            codes = pd.Categorical(values.astype("object"), dtype=field.pandas_dtype).codes
            return np.where(codes < 0, np.nan, codes.astype(np.float64))
        return _as_float(values)
    if field.categories is not None:
        index = field_codes(name)
        return np.array([np.nan if v is None else index[str(v)] for v in values], dtype=np.float64)
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def field_codes(name: str) -> dict[str, float]:
    """Category -> code of a categorical contract field (the order of its categories)."""
    return _CODES[name]


_CODES: dict[str, dict[str, float]] = {
    f.name: {value: float(code) for code, value in enumerate(f.categories)}
    for f in FIELDS_BY_NAME.values()
    if f.categories is not None
}


def encode_records(records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The model-feature columns of validated records (e.g. ``BookingRecord.model_dump()``)."""
    return {name: encode_column(name, [r.get(name) for r in records]) for name in MODEL_FEATURES}


def encode_frame(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The model-feature columns of a validated booking frame."""
    _require_model_features(frame)
    return {name: encode_column(name, frame[name]) for name in MODEL_FEATURES}


def derive(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every feature of ``features.spec`` from the encoded contract columns, in spec order: the
    one place where features are computed."""
    out: dict[str, np.ndarray] = {}
    for feature in FEATURES:
        out[feature.name] = _derive_one(feature, columns, out)
    return out


def _derive_one(
    feature: FeatureSpec, columns: dict[str, np.ndarray], done: dict[str, np.ndarray]
) -> np.ndarray:
    source = columns[feature.field] if feature.field is not None else None
    if feature.kind == "recorded":
        assert source is not None
        if feature.fold:
            folded: np.ndarray = _FOLDS[feature.name][np.nan_to_num(source, nan=0).astype(int)]
            return np.where(np.isnan(source), np.nan, folded)
        return source
    if feature.kind == "threshold":
        assert source is not None and feature.threshold is not None
        return threshold_flags(source, np.array([feature.threshold], dtype=np.float64))
    if feature.kind == "bands":
        assert source is not None
        band = band_index(source, np.asarray(feature.edges, dtype=np.float64))
        band[np.isnan(source)] = len(feature.bands)  # "not asked" is the last category
        return band
    if feature.kind == "missing":
        assert source is not None
        flags: np.ndarray = np.isnan(source).astype(np.float64)
        return flags
    if feature.kind == "member_of":
        assert feature.field is not None and source is not None
        codes = [field_codes(feature.field)[m] for m in feature.members]
        members: np.ndarray = np.isin(source, codes).astype(np.float64)
        return members
    # count_of: a missing part counts as absent: "not recorded" is not evidence of a situation.
    counted: np.ndarray = np.zeros(len(done[feature.parts[0]]), dtype=np.float64)
    for part in feature.parts:
        values = done[part]
        counted += np.where(np.isnan(values), 0.0, values)
    return counted


#: The categories of each categorical feature, in code order.
OUTPUT_CATEGORIES: dict[str, list[str]] = {
    **{
        f.name: feature_categories(f)
        for f in FEATURES
        if f.kind == "recorded" and FIELDS_BY_NAME[f.name].kind == "category"
    },
    **{f.name: [*f.bands, NOT_ASKED_BAND] for f in FEATURES if f.kind == "bands"},
}
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)

#: contract code -> feature code of the folded category features
_FOLDS: dict[str, np.ndarray] = {
    f.name: np.array(
        [
            OUTPUT_CATEGORIES[f.name].index(f.fold.get(c, c))
            for c in FIELDS_BY_NAME[f.name].categories or ()
        ],
        dtype=np.float64,
    )
    for f in FEATURES
    if f.fold
}


def feature_matrix(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The features of encoded columns as one float matrix (categories as codes), spec order."""
    derived = derive(columns)
    return np.column_stack([derived[name] for name in FEATURE_NAMES])


class BookingFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Booking records (a DataFrame with the contract's columns) to model features (a DataFrame).

    Numbers stay numbers (missing stays NaN, which LightGBM handles natively); categorical fields
    become pandas categoricals with the contract's fixed categories, so an encoding never depends
    on which values a batch happens to contain. The features, their thresholds and their order
    are those of ``features.spec``; there is nothing to learn, so ``fit`` only checks the input.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> BookingFeatures:
        _require_model_features(X)
        self.feature_names_in_ = np.array(MODEL_FEATURES, dtype=object)
        self.n_features_in_ = len(MODEL_FEATURES)
        self.feature_names_out_ = np.array(FEATURE_NAMES, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_out_")
        matrix = feature_matrix(encode_frame(X))
        return features_frame(matrix, X.index)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    @property
    def categorical_features(self) -> list[str]:
        """Output columns that are pandas categoricals (for LightGBM's categorical_feature)."""
        return [name for name in FEATURE_NAMES if name in OUTPUT_CATEGORIES]

    def monotone_constraints(self) -> list[int]:
        """LightGBM monotone constraints, one per output column, from the specification."""
        return [f.monotone for f in FEATURES]


def features_frame(matrix: np.ndarray, index: pd.Index | None = None) -> pd.DataFrame:
    """The feature matrix as a frame: categorical features as pandas categoricals."""
    out: dict[str, Any] = {}
    for position, name in enumerate(FEATURE_NAMES):
        values = matrix[:, position]
        categories = OUTPUT_CATEGORIES.get(name)
        if categories is None:
            out[name] = values
        else:
            codes = np.where(np.isnan(values), -1, values).astype(np.int64)
            out[name] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories))
    return pd.DataFrame(out, index=index)


def _require_model_features(X: Any) -> None:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"BookingFeatures needs a DataFrame of booking records, got {type(X)!r}")
    missing = [name for name in MODEL_FEATURES if name not in X.columns]
    if missing:
        raise ValueError(f"booking records lack model feature column(s): {', '.join(missing)}")


def _as_float(column: pd.Series) -> np.ndarray:
    values: np.ndarray = pd.to_numeric(column.astype("Float64"), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return values
