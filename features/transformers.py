"""The feature pipeline: booking records in, model features out.

Training, serving, batch scoring and monitoring all use ``BookingFeatures`` unchanged. It reads only
the contract's model features (``data_contracts.contract.MODEL_FEATURES``), so identifiers, context and
protected attributes can be in the frame and still never reach a model.

The small numeric transformers (``ThresholdIndicator``, ``OrdinalBander``) are plain scikit-learn
estimators that work on any 2-D array; ``BookingFeatures`` composes them by field name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from data_contracts.contract import FIELDS_BY_NAME, MODEL_FEATURES

#: Work Ability Score bands (DOMAIN.md): poor 0-5, moderate 6-7, good 8-9, excellent 10.
WORK_ABILITY_BANDS: tuple[str, ...] = ("poor", "moderate", "good", "excellent")
WORK_ABILITY_BAND_EDGES: tuple[float, ...] = (6.0, 8.0, 10.0)
NOT_ASKED = "not_asked"
OUT_OF_WORK_STATUSES: tuple[str, ...] = ("unemployed", "laid_off")


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


# The direction in which each numeric model feature may move the need, other things equal: +1 it can
# only raise it, -1 only lower it, 0 unconstrained. Used for LightGBM's monotone constraints. Every
# direction here has published support (DOMAIN.md "Evidence for the generator's effect sizes").
MONOTONE_DIRECTIONS: dict[str, int] = {
    "work_ability_score": -1,
    "months_unemployed": +1,
    "sickness_absence_days_12m": +1,
    "complaint_duration_weeks": +1,
    "long_term_unemployed": +1,
    "very_long_term_unemployed": +1,
    "long_sickness_absence": +1,
    "very_long_sickness_absence": +1,
    "prolonged_complaint": +1,
    "prolonged_situations": +1,
    "mental_health_concern": +1,
    "substance_use_concern": +1,
    "financial_difficulties": +1,
    "psychosocial_concerns": +1,
}


# Which contract fields each derived output column comes from, so that explanations can be summed
# back to the fields a person recognises. Output columns not listed here are contract fields
# themselves. A column with several sources shares its contribution equally among them.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "work_ability_band": ("work_ability_score",),
    "work_ability_not_asked": ("work_ability_score",),
    "long_term_unemployed": ("months_unemployed",),
    "very_long_term_unemployed": ("months_unemployed",),
    "long_sickness_absence": ("sickness_absence_days_12m",),
    "very_long_sickness_absence": ("sickness_absence_days_12m",),
    "prolonged_complaint": ("complaint_duration_weeks",),
    "frequent_attender": ("healthcare_visits_12m",),
    "out_of_work": ("employment_status",),
    "prolonged_situations": (
        "months_unemployed",
        "sickness_absence_days_12m",
        "complaint_duration_weeks",
    ),
    "psychosocial_concerns": (
        "mental_health_concern",
        "substance_use_concern",
        "financial_difficulties",
    ),
}


def source_fields(feature: str) -> tuple[str, ...]:
    """The contract fields an output column of BookingFeatures derives from."""
    return DERIVED_FROM.get(feature, (feature,))


class BookingFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Booking records (a DataFrame with the contract's columns) to model features (a DataFrame).

    Numbers stay numbers (missing stays NaN, which LightGBM handles natively); categorical fields
    become pandas categoricals with the contract's fixed categories, so an encoding never depends
    on which values a batch happens to contain. Derived features name the prolonged situations of
    DOMAIN.md. Thresholds are parameters with their reasons:

    - ``long_unemployment_months=12``: long-term unemployment is 12 months or more (Statistics Finland);
    - ``very_long_unemployment_months=24``: the TOIKE figure of "over two years";
    - ``long_sickness_absence_days=30``: the 30-day notification to occupational health;
    - ``very_long_sickness_absence_days=90``: the 90-day work-ability statement (30-60-90 rule);
    - ``prolonged_complaint_weeks=12``: a complaint of three months or more is prolonged;
    - ``frequent_visits=8``: frequent attenders of primary care (8+ visits a year).
    """

    def __init__(
        self,
        long_unemployment_months: int = 12,
        very_long_unemployment_months: int = 24,
        long_sickness_absence_days: int = 30,
        very_long_sickness_absence_days: int = 90,
        prolonged_complaint_weeks: int = 12,
        frequent_visits: int = 8,
    ) -> None:
        self.long_unemployment_months = long_unemployment_months
        self.very_long_unemployment_months = very_long_unemployment_months
        self.long_sickness_absence_days = long_sickness_absence_days
        self.very_long_sickness_absence_days = very_long_sickness_absence_days
        self.prolonged_complaint_weeks = prolonged_complaint_weeks
        self.frequent_visits = frequent_visits

    # -- fitting ---------------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: Any = None) -> BookingFeatures:
        _require_model_features(X)
        self.feature_names_in_ = np.array(MODEL_FEATURES, dtype=object)
        self.n_features_in_ = len(MODEL_FEATURES)
        self._flags = {
            "long_term_unemployed": ("months_unemployed", self.long_unemployment_months),
            "very_long_term_unemployed": ("months_unemployed", self.very_long_unemployment_months),
            "long_sickness_absence": ("sickness_absence_days_12m", self.long_sickness_absence_days),
            "very_long_sickness_absence": (
                "sickness_absence_days_12m",
                self.very_long_sickness_absence_days,
            ),
            "prolonged_complaint": ("complaint_duration_weeks", self.prolonged_complaint_weeks),
            "frequent_attender": ("healthcare_visits_12m", self.frequent_visits),
        }
        sources = np.zeros((1, len(self._flags)))
        # The fitted estimators check the parameters; transform calls their pure functions directly
        # so that a one-row request does not pay for input validation twice.
        self.flagger_ = ThresholdIndicator([t for _, t in self._flags.values()]).fit(sources)
        self.bander_ = OrdinalBander(WORK_ABILITY_BAND_EDGES).fit(np.zeros((1, 1)))
        self.feature_names_out_ = np.array(
            list(self.transform(_empty_booking_frame()).columns), dtype=object
        )
        return self

    # -- transforming ----------------------------------------------------------------------------

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "flagger_")
        _require_model_features(X)
        columns: dict[str, np.ndarray] = {}
        for name in MODEL_FEATURES:
            field = FIELDS_BY_NAME[name]
            if field.kind == "category":
                codes = pd.Categorical(X[name].astype("object"), dtype=field.pandas_dtype).codes
                columns[name] = np.where(codes < 0, np.nan, codes.astype(np.float64))
            else:
                columns[name] = _as_float(X[name])
        derived = self.derive(columns)
        out: dict[str, Any] = {}
        for name, values in derived.items():
            categories = self.output_categories().get(name)
            if categories is None:
                out[name] = values
            else:
                codes = np.where(np.isnan(values), -1, values).astype(np.int64)
                out[name] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories))
        frame = pd.DataFrame(out, index=X.index)
        # Always the column order the estimator was fitted with (models pickle that order).
        fitted_order = getattr(self, "feature_names_out_", None)
        return frame if fitted_order is None else frame[list(fitted_order)]

    def transform_records(self, records: list[dict[str, Any]]) -> np.ndarray:
        """The same features as ``transform``, for records already validated against the contract
        (e.g. the API's BookingRecord dumps), as a float matrix in output-column order with
        categories as their contract codes. Skips pandas: a single record costs microseconds.
        """
        check_is_fitted(self, "flagger_")
        columns: dict[str, np.ndarray] = {}
        for name in MODEL_FEATURES:
            raw = [record.get(name) for record in records]
            categories = FIELDS_BY_NAME[name].categories
            if categories is not None:
                index = {value: float(code) for code, value in enumerate(categories)}
                columns[name] = np.array(
                    [np.nan if v is None else index[str(v)] for v in raw], dtype=np.float64
                )
            else:
                columns[name] = np.array(
                    [np.nan if v is None else float(v) for v in raw], dtype=np.float64
                )
        derived = self.derive(columns)
        return np.column_stack([derived[name] for name in self.get_feature_names_out()])

    def derive(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every output column from the model-feature columns as float arrays (categories as contract
        codes, missing as NaN). The one place where features are computed."""
        out: dict[str, np.ndarray] = dict(columns)
        was = columns["work_ability_score"].reshape(-1, 1)
        band = band_index(was, self.bander_.edges_).ravel()
        band[band == len(WORK_ABILITY_BANDS) + 1] = len(WORK_ABILITY_BANDS)  # "not asked"
        out["work_ability_band"] = band
        out["work_ability_not_asked"] = np.isnan(columns["work_ability_score"]).astype(float)

        sources = np.column_stack([columns[source] for source, _ in self._flags.values()])
        flags = threshold_flags(sources, self.flagger_.thresholds_)
        for position, name in enumerate(self._flags):
            out[name] = flags[:, position]

        statuses = FIELDS_BY_NAME["employment_status"].categories or ()
        out_of_work_codes = [float(statuses.index(s)) for s in OUT_OF_WORK_STATUSES]
        out["out_of_work"] = np.isin(columns["employment_status"], out_of_work_codes).astype(float)
        # Counts treat a missing part as absent: "not recorded" is not evidence of a situation.
        out["prolonged_situations"] = (
            np.nan_to_num(out["long_term_unemployed"])
            + np.nan_to_num(out["long_sickness_absence"])
            + np.nan_to_num(out["prolonged_complaint"])
        )
        out["psychosocial_concerns"] = (
            np.nan_to_num(columns["mental_health_concern"])
            + np.nan_to_num(columns["substance_use_concern"])
            + np.nan_to_num(columns["financial_difficulties"])
        )
        return out

    @staticmethod
    def output_categories() -> dict[str, list[str]]:
        """The categories of each categorical output column, in code order."""
        categories = {
            name: list(FIELDS_BY_NAME[name].categories or ())
            for name in MODEL_FEATURES
            if FIELDS_BY_NAME[name].kind == "category"
        }
        categories["work_ability_band"] = [*WORK_ABILITY_BANDS, NOT_ASKED]
        return categories

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    @property
    def categorical_features(self) -> list[str]:
        """Output columns that are pandas categoricals (for LightGBM's categorical_feature)."""
        categorical = self.output_categories()
        return [str(c) for c in self.get_feature_names_out() if c in categorical]

    def monotone_constraints(self) -> list[int]:
        """LightGBM monotone constraints, one per output column, from MONOTONE_DIRECTIONS."""
        return [MONOTONE_DIRECTIONS.get(str(c), 0) for c in self.get_feature_names_out()]


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


def _empty_booking_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.Series(dtype=FIELDS_BY_NAME[name].pandas_dtype) for name in MODEL_FEATURES}
    )


def check_feature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A feature frame must be finite or NaN in its numeric columns (no inf from bad arithmetic)."""
    numeric = frame.select_dtypes(include="number")
    check_array(numeric.to_numpy(), ensure_all_finite="allow-nan", ensure_min_samples=0)
    return frame
