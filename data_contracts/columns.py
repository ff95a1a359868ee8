"""Columns read by the rules of ``data_contracts.values``: the first step of the column-wise
validation (``data_contracts.validation.coerce_bookings``).

Each reader returns the column in the contract's dtype and two masks: values that cannot be read
as the field's type, and values read but outside the field's range (or the booking-time window).
Columns of a typed dtype are read at once; object columns (JSON records) and the text of a CSV
file value by value, by the same rules the record path (``data_contracts.records``, the API's
pydantic model) applies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.contract import ContractField
from data_contracts.values import (
    BOOKING_TIME_EARLIEST,
    JSON_INTEGER,
    JSON_NUMBER,
    LONGEST_INTEGER_TEXT,
    NOT_A_TIME,
    BookingTimeError,
    read_booking_time,
)

Read = tuple[pd.Series, pd.Series, pd.Series]
_NOTHING = object()  # a value that cannot be read
_OUTSIDE = object()  # a booking time outside the window


def is_json_integer(value: object) -> bool:
    """An integer as JSON has them: a Python or numpy integer, never a boolean."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def is_json_number(value: object) -> bool:
    """A number as JSON has them: an integer or a float, never a boolean."""
    return is_json_integer(value) or isinstance(value, float | np.floating)


def _each(raw: pd.Series, present: pd.Series, read: Callable[[Any], Any]) -> list[Any]:
    """``read`` of every present value (``_NOTHING`` where it cannot be read), None where missing."""
    return [
        read(value) if here else None
        for value, here in zip(raw.to_numpy(dtype=object), present.to_numpy(), strict=True)
    ]


def _masks(raw: pd.Series, read: list[Any], inside: Callable[[Any], bool]) -> Read:
    """The read values (as an object Series, None where missing, unread or outside) and masks."""
    bad = [value is _NOTHING for value in read]
    outside = [value is not None and value is not _NOTHING and not inside(value) for value in read]
    kept = [None if b or o else value for value, b, o in zip(read, bad, outside, strict=True)]
    return (
        pd.Series(kept, index=raw.index, dtype=object),
        pd.Series(bad, index=raw.index, dtype=bool),
        pd.Series(outside, index=raw.index, dtype=bool),
    )


def _within(field: ContractField) -> Callable[[Any], bool]:
    low = -math.inf if field.minimum is None else field.minimum
    high = math.inf if field.maximum is None else field.maximum
    # Python compares an int with a float exactly, however large the int (no overflow, no cast).
    return lambda number: bool(low <= number <= high)


def _integer_text(text: object) -> Any:
    if not isinstance(text, str) or JSON_INTEGER.fullmatch(text) is None:
        return _NOTHING
    if len(text.lstrip("-")) > LONGEST_INTEGER_TEXT:
        return -math.inf if text.startswith("-") else math.inf  # out of every range
    return int(text)


def _number_text(text: object) -> Any:
    if not isinstance(text, str) or JSON_NUMBER.fullmatch(text) is None:
        return _NOTHING
    return float(text)  # huge exponents read as infinity: out of range


def _read_numbers(raw: pd.Series, field: ContractField, csv_text: bool) -> Read:
    present = raw.notna()
    inside = _within(field)
    integer = field.kind == "integer"
    dtype = raw.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if not csv_text and numeric and not isinstance(dtype, pd.CategoricalDtype):
        # A typed numeric column, read at once. A float column holds JSON integers with gaps
        # ([7, null] is [7.0, NaN]): there a whole, finite number is that integer.
        numbers = raw.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            readable = np.isfinite(numbers) & (numbers % 1 == 0) if integer else ~np.isnan(numbers)
        low = -np.inf if field.minimum is None else field.minimum
        high = np.inf if field.maximum is None else field.maximum
        within = readable & (numbers >= low) & (numbers <= high)
        bad = present & ~readable
        outside = present & readable & ~within
        kept = pd.Series(np.where(within, numbers, np.nan), index=raw.index).astype("Float64")
        return (kept.astype("Int64") if integer else kept), bad, outside
    if csv_text:
        read = _each(raw, present, _integer_text if integer else _number_text)
    else:  # an object column: JSON values one by one (a float here is a float, not an integer)
        typed = is_json_integer if integer else is_json_number
        read = _each(raw, present, lambda value: value if typed(value) else _NOTHING)
    values, bad, outside = _masks(raw, read, inside)
    cast = int if integer else float
    numbers_read = pd.Series([None if v is None else cast(v) for v in values], dtype=object)
    read_column: pd.Series = numbers_read.set_axis(raw.index)
    return read_column.astype("Int64" if integer else "Float64"), bad, outside


def _read_booleans(raw: pd.Series, csv_text: bool) -> Read:
    present = raw.notna()
    nothing = pd.Series(False, index=raw.index)
    if not csv_text and pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean"), nothing, nothing
    if csv_text:  # JSON's literals in any letter case (pandas writes True and False)
        words = {"true": True, "false": False}
        read = _each(raw, present, lambda text: words.get(str(text).lower(), _NOTHING))
    else:
        read = _each(
            raw,
            present,
            lambda value: bool(value) if isinstance(value, bool | np.bool_) else _NOTHING,
        )
    values, bad, _ = _masks(raw, read, lambda value: True)
    return pd.Series(pd.array(list(values), dtype="boolean"), index=raw.index), bad, nothing


def _read_categories(raw: pd.Series, field: ContractField) -> Read:
    # Exactly one of the category names, as sent (no trimming, no other letter case, no number).
    present = raw.notna()
    bad = present & ~raw.isin(list(field.categories or ()))
    values = raw.astype(object).where(~bad).astype(field.pandas_dtype)
    return values, bad, pd.Series(False, index=raw.index)


def _read_text(raw: pd.Series, csv_text: bool) -> Read:
    present = raw.notna()
    nothing = pd.Series(False, index=raw.index)
    if csv_text or (pd.api.types.is_string_dtype(raw.dtype) and raw.dtype != object):
        return raw.astype("string"), nothing, nothing
    bad = present & ~pd.Series(
        _each(raw, present, lambda value: isinstance(value, str)), index=raw.index, dtype=bool
    )
    return raw.astype(object).where(~bad).astype("string"), bad, nothing


def _read_times(raw: pd.Series, latest: datetime) -> Read:
    present = raw.notna()
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        # A typed column (Parquet, a generated frame); without a zone its times are UTC.
        stamps = raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
        inside = (stamps >= BOOKING_TIME_EARLIEST) & (stamps <= latest)
        outside = present & ~inside.fillna(False).astype(bool)
        kept = stamps.where(~outside).astype("datetime64[ns, UTC]").dt.floor("us")
        return kept, pd.Series(False, index=raw.index), outside

    def read(value: Any) -> Any:
        try:
            return read_booking_time(value, latest)
        except BookingTimeError as error:
            return _NOTHING if str(error) == NOT_A_TIME else _OUTSIDE

    read_values = _each(raw, present, read)
    bad = pd.Series([v is _NOTHING for v in read_values], index=raw.index, dtype=bool)
    outside = pd.Series([v is _OUTSIDE for v in read_values], index=raw.index, dtype=bool)
    kept = [v if isinstance(v, datetime) else None for v in read_values]
    stamps = pd.Series(pd.to_datetime(kept, utc=True), index=raw.index)
    return stamps.astype("datetime64[ns, UTC]"), bad, outside


def read_column(raw: pd.Series, field: ContractField, csv_text: bool, latest: datetime) -> Read:
    """The column in the contract's dtype; values that cannot be read; values outside the range."""
    if field.kind in ("integer", "number"):
        return _read_numbers(raw, field, csv_text)
    if field.kind == "boolean":
        return _read_booleans(raw, csv_text)
    if field.kind == "datetime":
        return _read_times(raw, latest)
    if field.kind == "category":
        return _read_categories(raw, field)
    return _read_text(raw, csv_text)
