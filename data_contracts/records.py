"""Booking records one by one: the API's own pydantic model applied to the rows of a frame (the
registered model's path for small frames), reading values by the same rules as the column-wise
validation of ``data_contracts.validation`` (both hold the rules of ``data_contracts.values``); and
records as a booking system sends them in JSON."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.contract import FIELDS_BY_NAME
from data_contracts.validation import ContractError, ContractViolation, _model_columns


def _plain(value: Any) -> Any:
    """A frame cell as a plain Python value: missing (NaN, NA, NaT) as None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_the_columns_read_them(
    raw: dict[str, Any], float_columns: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A record of a frame as the JSON it stands for (in place), so that the API's strict model
    reads it as the column-wise validation reads its columns (data_contracts.values): a frame
    keeps JSON integers with gaps as floats ([7, null] is [7.0, NaN]), so in a column of float
    dtype an integer field's whole, finite number is that integer. Nothing else is changed: text
    is not trimmed, "1_0" and "20" stay text, 1 stays a number (the model refuses them)."""
    for name in float_columns:
        value = raw.get(name)
        field = FIELDS_BY_NAME.get(name)
        if (
            field is not None
            and field.kind == "integer"
            and isinstance(value, float)
            and math.isfinite(value)
            and value.is_integer()
        ):
            raw[name] = int(value)
    return raw


def validate_records(
    frame: pd.DataFrame, fields: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """Each row of ``frame`` validated by the API's own model (``BookingRecord``, or the part of it
    with ``fields``), as the dicts of its ``model_dump()``; ContractError lists every violation
    with its row and field. The columns are those ``prepare_records`` validates."""
    from pydantic import ValidationError

    from data_contracts.contract import record_model

    model = record_model(fields)
    read = set(_model_columns(frame, fields))
    names = [str(c) for c in frame.columns]
    positions = [i for i, name in enumerate(frame.columns) if name in read]
    dtypes = list(frame.dtypes)
    float_columns = frozenset(names[i] for i in positions if dtypes[i].kind == "f")
    if len(frame) == 0:
        raise ContractError([ContractViolation("file", "no booking records (empty input)")])
    records: list[dict[str, Any]] = []
    violations: list[ContractViolation] = []
    seen: set[str] = set()
    # One object array, row by row: pandas' own row iterators cost ~15 µs a column.
    for row, values in enumerate(frame.to_numpy(dtype=object), start=1):
        raw = _as_the_columns_read_them(
            {names[i]: _plain(values[i]) for i in positions}, float_columns
        )
        try:
            record = model.model_validate(raw).model_dump()
        except ValidationError as exc:
            for error in exc.errors():
                location = ".".join(str(p) for p in error["loc"]) or "record"
                value = error.get("input") if error["type"] != "missing" else None
                problem = (
                    "unknown column: not in the contract"
                    if (error["type"] == "extra_forbidden")
                    else str(error["msg"])
                )
                violations.append(
                    ContractViolation(location, problem, row, None if value is None else str(value))
                )
            continue
        if "booking_id" not in record:
            records.append(record)
            continue
        if record["booking_id"] in seen:
            violations.append(
                ContractViolation(
                    "booking_id", "duplicated; must be unique", row, record["booking_id"]
                )
            )
        seen.add(record["booking_id"])
        records.append(record)
    if violations:
        raise ContractError(violations)
    return records


def as_json_records(records: pd.DataFrame) -> list[dict[str, Any]]:
    """Booking records as a booking system would send them in JSON (None for missing)."""
    from data_contracts.contract import BOOKING_COLUMNS

    out = records[list(BOOKING_COLUMNS)].astype(object)
    out["booking_time"] = records["booking_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = out.where(pd.notna(out), None)
    return [{str(k): v for k, v in row.items()} for row in out.to_dict(orient="records")]
