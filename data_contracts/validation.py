"""Reading and validating booking files and frames against the contract.

Validation happens in two steps, both driven by the contract: ``coerce_bookings`` reads every value
by the rules of ``data_contracts.values`` (JSON's types, held strictly; the text of a CSV file by
JSON's literals) into the contract's dtypes and reports every value it cannot read; then the pandera
schema of ``data_contracts.contract`` checks ranges, categories, patterns, personal identity codes,
uniqueness and nullability. Every problem is reported with its row, field and value (never an
identifier's or a personal identity code's value in a printed report); no problem is a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors

from data_contracts.columns import read_column
from data_contracts.contract import (
    CONTRACT_FIELDS,
    FIELDS_BY_NAME,
    RECORD_CHECK_FIELDS,
    SUPPORT_LEVEL_RULE,
    ContractField,
    booking_frame_schema,
    fields_with_role,
)
from data_contracts.identity import contains_personal_identity_code
from data_contracts.values import NOT_A_TIME, OUTSIDE_THE_WINDOW, booking_time_latest

SUPPORTED_SUFFIXES = (".csv", ".parquet")
#: whose values a printed report names but never shows (the client reference)
IDENTIFIERS = frozenset({"client_ref"})


def hidden_because(field: str, value: object) -> str | None:
    """Why a report must not print ``value`` of ``field`` (None: it may): a client reference is
    never printed, nor any value that contains a personal identity code sent by mistake. For every
    printed report, log line and message that names a refused value."""
    if value is None:
        return None
    if field in IDENTIFIERS:
        return "an identifier"
    if contains_personal_identity_code(str(value)):
        return "it contains a personal identity code"
    return None


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
        # Printed reports end in terminals, cron mail and logs: an identifier, or any value holding
        # a personal identity code sent by mistake, is named, never echoed. The value stays on the
        # violation object for the caller who sent it.
        hidden = hidden_because(self.field, self.value)
        if hidden is not None:
            value = f" (value hidden: {hidden})"
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


def _range_text(field: ContractField) -> str:
    low = "-" if field.minimum is None else f"{field.minimum:g}"
    high = "-" if field.maximum is None else f"{field.maximum:g}"
    return f"out of range {low} to {high}"


def _outside(field: ContractField) -> str:
    return OUTSIDE_THE_WINDOW if field.kind == "datetime" else _range_text(field)


def _unreadable(field: ContractField) -> str:
    if field.kind == "integer":
        return "not a whole number"
    if field.kind == "number":
        return "not a number"
    if field.kind == "boolean":
        return "not true/false"
    if field.kind == "datetime":
        return NOT_A_TIME
    if field.kind == "category":
        return "unknown category; allowed: " + ", ".join(field.categories or ())
    return "not text"


def coerce_bookings(
    raw: pd.DataFrame,
    labelled: bool | None = None,
    fields: tuple[str, ...] | None = None,
    csv_text: bool = False,
) -> tuple[pd.DataFrame, list[ContractViolation]]:
    """Cast known columns to the contract's dtypes; report missing, unknown and unreadable ones.
    ``fields``: cast and check only these (the others must still be contract columns).
    ``csv_text``: every cell is the text of a CSV file, read by JSON's literals; otherwise every
    value must have its field's JSON type (data_contracts.values)."""
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
    latest = booking_time_latest()
    for field in expected:
        if field.name not in raw.columns:
            if field.in_every_record:
                violations.append(ContractViolation(field.name, "missing column"))
            continue
        values, bad, outside = read_column(raw[field.name], field, csv_text, latest)
        for mask, problem in ((bad, _unreadable(field)), (outside, _outside(field))):
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
    csv_text: bool = False,
) -> pd.DataFrame:
    """The frame in the contract's dtypes, or ContractError listing every violation. ``fields``:
    only these columns are kept, cast and checked (e.g. the model's inputs). ``csv_text``: the
    frame holds the text cells of a CSV file (``read_bookings``); otherwise typed values."""
    if labelled is None:
        labelled = any(name in frame.columns for name in fields_with_role("label", "synthetic"))
    coerced, violations = coerce_bookings(frame, labelled, fields, csv_text)
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
    """Read and validate a booking file: CSV (its text read by JSON's literals) or Parquet."""
    csv_text = Path(path).suffix.lower() == ".csv"
    return validate_bookings(read_bookings(path), labelled, source=str(path), csv_text=csv_text)
