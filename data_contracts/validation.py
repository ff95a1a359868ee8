"""Reading and validating booking files and frames against the contract.

Validation happens in two steps, both driven by the contract: ``coerce_bookings`` turns raw values
(strings from a CSV, or typed Parquet columns) into the contract's dtypes and reports every value it
cannot read; then the pandera schema of ``data_contracts.contract`` checks ranges, categories,
patterns, uniqueness and nullability. Every problem is reported with its row, field and value; no
problem is ever a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors

from data_contracts.contract import (
    CONTRACT_FIELDS,
    FIELDS_BY_NAME,
    RECORD_CHECK_FIELDS,
    SUPPORT_LEVEL_RULE,
    ContractField,
    booking_frame_schema,
    fields_with_role,
)

#: a whole number written as text: digits only ("1e1" and "1_0" are not)
_WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})
SUPPORTED_SUFFIXES = (".csv", ".parquet")
#: whose values a printed report names but never shows (the client reference)
IDENTIFIERS = frozenset({"client_ref"})


@dataclass(frozen=True)
class ContractViolation:
    """One problem: which row (1-based, counting data rows after any header), field and value."""

    field: str
    problem: str
    row: int | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = f"row {self.row}, " if self.row is not None else ""
        value = f" (value: {self.value!r})" if self.value is not None else ""
        if value and self.field in IDENTIFIERS:
            # Printed reports end in terminals, cron mail and logs: an identifier (perhaps a
            # personal identity code sent by mistake) is named, never echoed. The value stays on
            # the violation object for the caller who sent it.
            value = " (value hidden: an identifier)"
        return f"{where}field {self.field!r}: {self.problem}{value}"


class ContractError(ValueError):
    """Input that breaks the booking-record contract; carries every violation found."""

    def __init__(self, violations: list[ContractViolation], source: str = "input") -> None:
        self.violations = violations
        self.source = source
        super().__init__(self.report(limit=20))

    def report(self, limit: int | None = None) -> str:
        shown = self.violations if limit is None else self.violations[:limit]
        lines = [f"{self.source}: {len(self.violations)} contract violation(s)"]
        lines += [f"  - {v}" for v in shown]
        if limit is not None and len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more")
        return "\n".join(lines)


def read_bookings(path: str | Path) -> pd.DataFrame:
    """Read a CSV (every cell as text, empty = missing) or Parquet file without interpreting it."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ContractError(
            [
                ContractViolation(
                    "file",
                    f"unsupported file type; use {' or '.join(SUPPORTED_SUFFIXES)}",
                    value=path.name,
                )
            ],
            source=str(path),
        )
    if not path.is_file():
        raise ContractError([ContractViolation("file", "no such file", value=str(path))], str(path))
    if path.suffix.lower() == ".csv":
        _refuse_nul_bytes(path)
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ContractError(
            [ContractViolation("file", f"cannot be read: {exc}".splitlines()[0])], str(path)
        ) from exc
    return frame


def _holds_booleans(raw: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return True
    return raw.dtype == object and any(isinstance(v, bool | np.bool_) for v in raw.dropna())


def _boolean_text(value: object) -> str:
    """A boolean cell as text: 1.0 and 0.0 (pandas' 0/1 with blanks) read as 1 and 0."""
    if isinstance(value, float | np.floating) and value in (0.0, 1.0):
        return str(int(value))
    return str(value).strip().lower()


def _refuse_nul_bytes(path: Path) -> None:
    """A NUL byte would silently cut a CSV cell short (the C parser stops there): refuse the file."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if b"\x00" in line:
                raise ContractError(
                    [ContractViolation("file", f"a NUL byte on line {number}: not a text file")],
                    str(path),
                )


def _as_text(value: object) -> str:
    return str(value)


def _coerce_column(raw: pd.Series, field: ContractField) -> tuple[pd.Series, pd.Series]:
    """The column in the contract's dtype, and a mask of values that could not be read."""
    present = raw.notna()
    if field.kind in ("integer", "number") and _holds_booleans(raw):
        # true/false is not a number (the record path refuses it too)
        return pd.Series(
            pd.NA, index=raw.index, dtype="Int64" if field.kind == "integer" else "Float64"
        ), present
    if field.kind == "integer":
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = present & (numbers.isna() | (numbers.notna() & (numbers % 1 != 0)))
        # as text, a whole number is digits only ("1e1" and "1_0" are not; the record path agrees)
        texts = raw.map(lambda v: isinstance(v, str) and not _WHOLE_NUMBER.match(v.strip()))
        bad |= present & texts.astype(bool)
        return numbers.where(~bad).astype("Float64").astype("Int64"), bad
    if field.kind == "number":
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = present & numbers.isna()
        return numbers.astype("Float64"), bad
    if field.kind == "boolean":
        if pd.api.types.is_bool_dtype(raw.dtype):
            return raw.astype("boolean"), pd.Series(False, index=raw.index)
        text = raw.map(_boolean_text, na_action="ignore")
        values = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        values[text.isin(_TRUE)] = True
        values[text.isin(_FALSE)] = False
        return values, present & values.isna()
    if field.kind == "datetime":
        if not pd.api.types.is_datetime64_any_dtype(raw.dtype):
            raw = raw.astype("string")  # numpy.str_ values (MLflow "inputs" payloads) break parsing
        try:
            stamps = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
        except (ValueError, TypeError):
            stamps = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
        stamps = stamps.astype("datetime64[ns, UTC]")
        return stamps, present & stamps.isna()
    if field.kind == "category":
        text = raw.map(lambda v: str(v).strip(), na_action="ignore")
        bad = present & ~text.isin(list(field.categories or ()))
        return text.where(~bad).astype(field.pandas_dtype), bad
    text = raw.map(lambda v: str(v).strip(), na_action="ignore")
    return text.astype("string"), pd.Series(False, index=raw.index)


def _out_of_range(values: pd.Series, field: ContractField) -> pd.Series:
    """Numbers outside the field's range, found before any cast so the report shows them as written
    (a huge number cast to Int64 would wrap around)."""
    numbers = pd.to_numeric(values, errors="coerce")
    low = -np.inf if field.minimum is None else field.minimum
    high = np.inf if field.maximum is None else field.maximum
    return numbers.notna() & ((numbers < low) | (numbers > high))


def _range_text(field: ContractField) -> str:
    low = "-" if field.minimum is None else f"{field.minimum:g}"
    high = "-" if field.maximum is None else f"{field.maximum:g}"
    return f"out of range {low} to {high}"


def _unreadable(field: ContractField) -> str:
    if field.kind == "integer":
        return "not a whole number"
    if field.kind == "number":
        return "not a number"
    if field.kind == "boolean":
        return "not true/false"
    if field.kind == "datetime":
        return "not an ISO 8601 date and time"
    if field.kind == "category":
        return "unknown category; allowed: " + ", ".join(field.categories or ())
    return "cannot be read"


def coerce_bookings(
    raw: pd.DataFrame, labelled: bool | None = None, fields: tuple[str, ...] | None = None
) -> tuple[pd.DataFrame, list[ContractViolation]]:
    """Cast known columns to the contract's dtypes; report missing, unknown and unreadable ones.
    ``fields``: cast and check only these (the others must still be contract columns)."""
    if labelled is None:
        labelled = any(name in raw.columns for name in fields_with_role("label", "synthetic"))
    raw = raw.reset_index(drop=True)
    violations: list[ContractViolation] = []
    if raw.shape[1] == 0 or len(raw) == 0:
        violations.append(ContractViolation("file", "no booking records (empty input)"))
        return raw, violations
    for name in raw.columns:
        if name not in FIELDS_BY_NAME:
            violations.append(ContractViolation(str(name), "unknown column: not in the contract"))
    expected = [
        f
        for f in CONTRACT_FIELDS
        if (f.name in fields if fields is not None else labelled or f.in_every_record)
    ]
    columns: dict[str, pd.Series] = {}
    for field in expected:
        if field.name not in raw.columns:
            if field.in_every_record:
                violations.append(ContractViolation(field.name, "missing column"))
            continue
        column = raw[field.name]
        outside = pd.Series(False, index=raw.index)
        if field.kind in ("integer", "number"):
            outside = _out_of_range(column, field)
            column = column.where(~outside)
        values, bad = _coerce_column(column, field)
        for mask, problem in (
            (bad, _unreadable(field)),
            (outside, _range_text(field)),
        ):
            for position in np.flatnonzero(mask.to_numpy()):
                violations.append(
                    ContractViolation(
                        field.name,
                        problem,
                        row=int(position) + 1,
                        value=_as_text(raw[field.name].iloc[position]),
                    )
                )
        columns[field.name] = values
    return pd.DataFrame(columns, index=raw.index), violations


def _schema_violations(
    frame: pd.DataFrame,
    labelled: bool,
    already: set[tuple[str, int | None]],
    fields: tuple[str, ...] | None = None,
) -> list[ContractViolation]:
    try:
        booking_frame_schema(labelled, fields).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        found: list[ContractViolation] = []
        for case in exc.failure_cases.itertuples(index=False):
            check = str(case.check)
            if check in ("column_in_dataframe", "column_in_schema"):
                continue  # reported by coerce_bookings, with clearer words
            index = case.index
            row = int(index) + 1 if index is not None and not pd.isna(index) else None
            if case.schema_context == "DataFrameSchema" and check in RECORD_CHECK_FIELDS:
                # A record-wide check fails once per row, on the field it is about.
                column = RECORD_CHECK_FIELDS[check]
                cell = frame[column].iloc[int(index)] if row is not None else None
                value = None if cell is None or pd.isna(cell) else str(cell)
                problem = SUPPORT_LEVEL_RULE if column == "support_level" else check
            else:
                column = str(case.column) if case.column in FIELDS_BY_NAME else "record"
                value = None if pd.isna(case.failure_case) else str(case.failure_case)
                problem = _describe_check(check, column)
            if (column, row) in already:
                continue
            already.add((column, row))
            found.append(ContractViolation(column, problem, row, value))
        return found
    return []


def _describe_check(check: str, column: str) -> str:
    field = FIELDS_BY_NAME.get(column)
    if check == "field_uniqueness":
        return "duplicated; must be unique"
    if check == "not_nullable":
        return "missing, but required"
    if field is not None and check.startswith(("greater_than", "less_than", "in_range")):
        return _range_text(field)
    if check.startswith("str_matches"):
        return f"does not match the pattern {field.pattern if field else ''}"
    if check.startswith("dtype"):
        return f"wrong type: {check}"
    return check.replace("_", " ")


def validate_bookings(
    frame: pd.DataFrame,
    labelled: bool | None = None,
    source: str = "input",
    fields: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """The frame in the contract's dtypes, or ContractError listing every violation. ``fields``:
    only these columns are kept, cast and checked (e.g. the model's inputs)."""
    if labelled is None:
        labelled = any(name in frame.columns for name in fields_with_role("label", "synthetic"))
    coerced, violations = coerce_bookings(frame, labelled, fields)
    if not any(v.field == "file" for v in violations):
        already = {(v.field, v.row) for v in violations}
        violations += _schema_violations(coerced, labelled, already, fields)
    if violations:
        violations.sort(key=lambda v: (v.row or 0, v.field))
        raise ContractError(violations, source)
    return coerced


def _model_columns(frame: pd.DataFrame, fields: tuple[str, ...] | None) -> list[str]:
    """The columns a model reads: outcome and synthetic columns dropped, and with ``fields`` only
    those (every other column must still be a contract column, so a misspelt one is refused)."""
    repeated = sorted({str(c) for c in frame.columns if list(frame.columns).count(c) > 1})
    if repeated:
        raise ContractError(
            [ContractViolation(name, "the column appears more than once") for name in repeated]
        )
    if fields is None:
        dropped = set(fields_with_role("label", "synthetic"))
        return [c for c in frame.columns if c not in dropped]
    unknown = [str(c) for c in frame.columns if c not in FIELDS_BY_NAME]
    if unknown:
        raise ContractError(
            [ContractViolation(name, "unknown column: not in the contract") for name in unknown]
        )
    return [c for c in frame.columns if c in fields]


def prepare_records(frame: pd.DataFrame, fields: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Booking records as a model sees them (see ``_model_view``), optional fields that were left
    out filled as missing (as the API's request model does), then validated column-wise."""
    from data_contracts.booking import BookingRecord

    frame = frame[_model_columns(frame, fields)].copy()
    for name, info in BookingRecord.model_fields.items():
        wanted = fields is None or name in fields
        if wanted and name not in frame.columns and not info.is_required():
            frame[name] = info.default
    return validate_bookings(frame, labelled=False, fields=fields)


def load_bookings(path: str | Path, labelled: bool | None = None) -> pd.DataFrame:
    """Read and validate a booking file: CSV or Parquet."""
    return validate_bookings(read_bookings(path), labelled, source=str(path))
