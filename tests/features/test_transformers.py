"""The feature pipeline: scikit-learn conformance and properties over contract-built frames.

The hypothesis strategy below builds booking-record frames from the contract itself
(``CONTRACT_FIELDS``: kind, categories, minimum, maximum, pattern, nullable), so a field added to
``data_contracts/booking.py`` is exercised here without touching this file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from data_contracts.booking import looks_like_personal_identity_code
from data_contracts.contract import (
    CONTRACT_FIELDS,
    FIELDS_BY_NAME,
    MODEL_FEATURES,
    SUPPORT_LEVEL,
    TARGET,
    UNIQUE_KEY,
    ContractField,
)
from data_contracts.validation import validate_bookings
from features.transformers import BookingFeatures, OrdinalBander, ThresholdIndicator
from synthetic.cohort import generate_cohort

pytestmark = [pytest.mark.data]

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Everything that is not a model feature: identifiers, context, protected attributes, labels.
NOT_FEATURE_FIELDS: tuple[ContractField, ...] = tuple(
    f for f in CONTRACT_FIELDS if f.role != "feature"
)


# -- scikit-learn conformance ------------------------------------------------------------------------


@parametrize_with_checks([ThresholdIndicator([1.0]), OrdinalBander([0.0, 1.0])])
def test_small_transformers_are_sklearn_estimators(estimator: Any, check: Any) -> None:
    check(estimator)


# -- a strategy built from the contract --------------------------------------------------------------


def _choices(field: ContractField) -> tuple[Any, ...] | None:
    """The values of a field with few of them (categories, booleans), or None."""
    if field.kind == "category":
        return field.categories
    if field.kind == "boolean":
        return (False, True)
    return None


def _present_values(field: ContractField) -> st.SearchStrategy[Any]:
    """Any value the contract allows in ``field`` (never missing)."""
    choices = _choices(field)
    if choices is not None:
        return st.sampled_from(choices)
    if field.kind == "integer":
        low = None if field.minimum is None else int(field.minimum)
        high = None if field.maximum is None else int(field.maximum)
        return st.integers(low, high)
    if field.kind == "number":
        return st.floats(field.minimum, field.maximum, allow_nan=False, allow_infinity=False)
    if field.kind == "datetime":
        return st.datetimes(
            # within the contract's window of plausible booking times (2000 to two days from now)
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2025, 12, 31),
            timezones=st.just(UTC),
        )
    if field.pattern is not None:
        text = st.from_regex(field.pattern, fullmatch=True)
    else:
        text = st.text(min_size=1).filter(lambda value: value == value.strip() != "")
    if field.role == "identifier":
        text = text.filter(lambda value: not looks_like_personal_identity_code(value))
    return text


@cache
def _column(field: ContractField, rows: int) -> st.SearchStrategy[list[Any]]:
    """``rows`` values of ``field``; missing ones only where the contract allows them."""
    choices = _choices(field)
    if field.nullable and choices is not None:
        values = st.sampled_from((None, *choices))  # one draw per value instead of two
    elif field.nullable:
        values = st.none() | _present_values(field)
    else:
        values = _present_values(field)
    return st.lists(values, min_size=rows, max_size=rows, unique=field.name == UNIQUE_KEY)


@st.composite
def booking_frames(
    draw: st.DrawFn,
    rows: int | None = None,
    labelled: bool = True,
    fields: tuple[ContractField, ...] = CONTRACT_FIELDS,
) -> pd.DataFrame:
    """A frame of 1-6 booking records in the contract's dtypes, with an arbitrary unique index.

    ``labelled=False`` leaves out the optional label and synthetic columns; ``fields`` restricts
    the frame to some of the contract's fields.
    """
    n = draw(st.integers(1, 6)) if rows is None else rows
    columns: dict[str, pd.Series] = {}
    for field in fields:
        if not (labelled or field.in_every_record):
            continue
        columns[field.name] = pd.Series(draw(_column(field, n)), dtype=field.pandas_dtype)
    if TARGET in columns and SUPPORT_LEVEL in columns:
        # The one rule between fields: a support level exactly when support was needed.
        need = columns[TARGET]
        level = columns[SUPPORT_LEVEL].mask(need.eq(False).fillna(False).astype(bool))
        fallback = draw(st.sampled_from(FIELDS_BY_NAME[SUPPORT_LEVEL].categories or ()))
        needs_level = (need.eq(True).fillna(False) & level.isna()).astype(bool)
        columns[SUPPORT_LEVEL] = level.mask(needs_level, fallback)
    index = draw(st.lists(st.integers(-(10**6), 10**6), min_size=n, max_size=n, unique=True))
    return pd.DataFrame(columns).set_axis(pd.Index(index), axis=0)


def features_of(frame: pd.DataFrame) -> pd.DataFrame:
    return BookingFeatures().fit(frame).transform(frame)


def expected_band(score: Any) -> str:
    """DOMAIN.md: poor 0-5, moderate 6-7, good 8-9, excellent 10; not asked when missing."""
    if pd.isna(score):
        return "not_asked"
    if score <= 5:
        return "poor"
    if score <= 7:
        return "moderate"
    if score <= 9:
        return "good"
    return "excellent"


# -- properties --------------------------------------------------------------------------------------
# Generating a frame costs far more than transforming it, so one property test checks every
# property of the output on each frame, each in its own named helper.


def assert_same_rows_index_and_names(
    frame: pd.DataFrame, out: pd.DataFrame, transformer: BookingFeatures
) -> None:
    assert len(out) == len(frame)
    assert out.index.equals(frame.index)
    assert list(out.columns) == list(transformer.get_feature_names_out())


def assert_numeric_columns_finite_or_nan(out: pd.DataFrame) -> None:
    numeric = out.select_dtypes(include="number")
    assert not numeric.empty
    assert not np.isinf(numeric.to_numpy(dtype=np.float64)).any()


def assert_work_ability_bands(frame: pd.DataFrame, out: pd.DataFrame) -> None:
    expected = [expected_band(score) for score in frame["work_ability_score"]]
    assert list(out["work_ability_band"].astype(str)) == expected


def assert_long_term_unemployed_is_twelve_months_or_more(
    frame: pd.DataFrame, out: pd.DataFrame
) -> None:
    months = frame["months_unemployed"]
    present = months.notna().to_numpy(dtype=bool)
    flag = out["long_term_unemployed"].to_numpy()
    np.testing.assert_array_equal(flag[present], (months[present] >= 12).to_numpy(dtype=float))
    assert np.isnan(flag[~present]).all()  # "not recorded" stays missing


def assert_prolonged_situations_from_zero_to_three(out: pd.DataFrame) -> None:
    assert out["prolonged_situations"].isin([0.0, 1.0, 2.0, 3.0]).all()


@PROPERTY_SETTINGS
@given(frame=booking_frames())
def test_booking_features_on_contract_built_frames(frame: pd.DataFrame):
    transformer = BookingFeatures().fit(frame)
    out = transformer.transform(frame)

    assert_same_rows_index_and_names(frame, out, transformer)
    assert_numeric_columns_finite_or_nan(out)
    assert_work_ability_bands(frame, out)
    assert_long_term_unemployed_is_twelve_months_or_more(frame, out)
    assert_prolonged_situations_from_zero_to_three(out)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_identifiers_context_and_protected_attributes_never_change_features(data: st.DataObject):
    frame = data.draw(booking_frames(), label="frame")
    replacements = data.draw(
        booking_frames(rows=len(frame), fields=NOT_FEATURE_FIELDS), label="replacements"
    )
    changed = frame.copy()
    for name in replacements.columns:
        changed[name] = replacements[name].set_axis(frame.index)

    pd.testing.assert_frame_equal(features_of(changed), features_of(frame))


@settings(PROPERTY_SETTINGS, max_examples=10)
@given(frame=booking_frames(labelled=False))
def test_contract_built_frames_are_valid_booking_records(frame: pd.DataFrame):
    """The strategy itself honours the contract, so the properties above test real inputs."""
    validate_bookings(frame)


def test_features_need_only_the_model_feature_columns(contract_frame: pd.DataFrame):
    """Every feature comes from the model-feature columns alone: dropping identifiers, context and
    protected attributes from the frame changes nothing (a feature reading one would fail here)."""
    whole = BookingFeatures().fit(contract_frame).transform(contract_frame)
    narrow = contract_frame[list(MODEL_FEATURES)]
    pd.testing.assert_frame_equal(BookingFeatures().fit(narrow).transform(narrow), whole)


def test_work_ability_bands_and_long_term_unemployment_at_their_edges():
    frame = generate_cohort("pirkanmaa", 12, seed=1)
    frame["work_ability_score"] = pd.array([*range(11), None], dtype="Int64")
    frame["months_unemployed"] = pd.array([0, 11, 12, 13, 24, None, *[0] * 6], dtype="Int64")

    out = features_of(frame)

    assert list(out["work_ability_band"].astype(str)) == [
        *["poor"] * 6,
        *["moderate"] * 2,
        *["good"] * 2,
        "excellent",
        "not_asked",
    ]
    np.testing.assert_array_equal(
        out["long_term_unemployed"].to_numpy()[:6], [0.0, 0.0, 1.0, 1.0, 1.0, np.nan]
    )


# -- wrong input -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def contract_frame() -> pd.DataFrame:
    return generate_cohort("pirkanmaa", 5, seed=1)


@pytest.mark.parametrize("column", MODEL_FEATURES)
def test_frame_lacking_a_model_feature_is_refused_by_name(
    contract_frame: pd.DataFrame, column: str
):
    lacking = contract_frame.drop(columns=[column])
    message = rf"lack model feature column\(s\): {re.escape(column)}$"

    with pytest.raises(ValueError, match=message):
        BookingFeatures().fit(lacking)
    fitted = BookingFeatures().fit(contract_frame)
    with pytest.raises(ValueError, match=message):
        fitted.transform(lacking)


@pytest.mark.parametrize(
    "not_a_frame",
    [np.zeros((3, len(MODEL_FEATURES))), [[0] * len(MODEL_FEATURES)], None],
    ids=["ndarray", "list", "None"],
)
def test_non_dataframe_is_refused_with_type_error(contract_frame: pd.DataFrame, not_a_frame: Any):
    with pytest.raises(TypeError, match="DataFrame"):
        BookingFeatures().fit(not_a_frame)
    fitted = BookingFeatures().fit(contract_frame)
    with pytest.raises(TypeError, match="DataFrame"):
        fitted.transform(not_a_frame)


# -- scikit-learn parameters -------------------------------------------------------------------------


def test_booking_features_clone_is_unfitted_and_transforms_alike(contract_frame: pd.DataFrame):
    # The thresholds live in features.spec, not in parameters: there is nothing to set.
    original = BookingFeatures().fit(contract_frame)

    copy = clone(original)

    assert copy is not original
    assert copy.get_params() == {}
    with pytest.raises(NotFittedError):
        copy.transform(contract_frame)  # a clone is unfitted
    pd.testing.assert_frame_equal(
        copy.fit(contract_frame).transform(contract_frame), original.transform(contract_frame)
    )
