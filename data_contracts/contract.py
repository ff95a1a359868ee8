"""Everything derived from the booking-record definition in ``data_contracts.booking``.

Nothing here lists a column by hand: the field lists, pandas dtypes, the pandera frame schema and
the Markdown documentation are all read off the pydantic models.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, Literal

import annotated_types
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo

from data_contracts.booking import CONTRACT_VERSION, BookingRecord, LabelledBookingRecord
from data_contracts.identity import contains_personal_identity_code
from data_contracts.values import BOOKING_TIME_WINDOW, PERSONAL_IDENTITY_CODE_PROBLEM

Kind = Literal["string", "datetime", "integer", "number", "category", "boolean"]
Role = Literal["identifier", "context", "protected", "feature", "label", "synthetic"]


@dataclass(frozen=True)
class ContractField:
    """One field of the contract, read off the pydantic model."""

    name: str
    kind: Kind
    role: Role
    nullable: bool
    description: str
    categories: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    unit: str | None = None
    missing: str | None = None
    fairness_group: bool = False

    @property
    def pandas_dtype(self) -> Any:
        """The dtype of this field in a validated DataFrame."""
        if self.kind == "category":
            return pd.CategoricalDtype(categories=list(self.categories or ()), ordered=False)
        return {
            "string": "string",
            "datetime": "datetime64[ns, UTC]",
            "integer": "Int64",
            "number": "Float64",
            "boolean": "boolean",
        }[self.kind]

    @property
    def in_every_record(self) -> bool:
        """Labels and synthetic truth are optional columns; every other column must be present."""
        return self.role not in ("label", "synthetic")


def _kind_of(annotation: Any) -> tuple[Kind, bool, tuple[str, ...] | None]:
    args = typing.get_args(annotation)
    nullable = isinstance(annotation, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if nullable else annotation
    if isinstance(base, type) and issubclass(base, StrEnum):
        return "category", nullable, tuple(member.value for member in base)
    if base is bool:
        return "boolean", nullable, None
    if base is int:
        return "integer", nullable, None
    if base is float:
        return "number", nullable, None
    if base is datetime:
        return "datetime", nullable, None
    if base is str:
        return "string", nullable, None
    raise TypeError(f"contract field type {annotation!r} has no frame representation")


def _to_contract_field(name: str, info: FieldInfo) -> ContractField:
    kind, nullable, categories = _kind_of(info.annotation)
    extra = info.json_schema_extra
    if not isinstance(extra, dict) or "role" not in extra:
        raise TypeError(f"contract field {name!r} has no role")
    minimum = maximum = None
    pattern = None
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            minimum = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            maximum = float(item.le)  # type: ignore[arg-type]
        elif getattr(item, "pattern", None) is not None:
            pattern = item.pattern
    return ContractField(
        name=name,
        kind=kind,
        role=extra["role"],  # type: ignore[arg-type]
        nullable=nullable,
        description=info.description or "",
        categories=categories,
        minimum=minimum,
        maximum=maximum,
        pattern=pattern,
        unit=extra.get("unit"),  # type: ignore[arg-type]
        missing=extra.get("missing"),  # type: ignore[arg-type]
        fairness_group=bool(extra.get("fairness_group", False)),
    )


#: Every field of a labelled booking record, in the contract's order.
CONTRACT_FIELDS: tuple[ContractField, ...] = tuple(
    _to_contract_field(name, info) for name, info in LabelledBookingRecord.model_fields.items()
)
FIELDS_BY_NAME: dict[str, ContractField] = {f.name: f for f in CONTRACT_FIELDS}

#: The columns of a booking record (what a booking system sends), in order.
BOOKING_COLUMNS: tuple[str, ...] = tuple(BookingRecord.model_fields)


def fields_with_role(*roles: Role) -> tuple[str, ...]:
    return tuple(f.name for f in CONTRACT_FIELDS if f.role in roles)


#: Raw contract fields the models may use. Everything else is never a model input.
MODEL_FEATURES: tuple[str, ...] = fields_with_role("feature")


@cache
def record_model(fields: tuple[str, ...] | None = None) -> type[BaseModel]:
    """The pydantic model of a booking record, or of only ``fields`` of it (e.g. the model's
    inputs), with the same types, limits and descriptions: derived, never written again."""
    if fields is None:
        return BookingRecord
    chosen: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in BookingRecord.model_fields.items()
        if name in fields
    }
    return create_model("ModelInputs", __config__=BookingRecord.model_config, **chosen)


#: Kept only so that monitoring can compare groups; never model inputs.
PROTECTED_ATTRIBUTES: tuple[str, ...] = fields_with_role("protected")
#: The fields whose groups fairness monitoring compares (age is compared by band).
FAIRNESS_GROUPS: tuple[str, ...] = tuple(f.name for f in CONTRACT_FIELDS if f.fairness_group)
IDENTIFIERS: tuple[str, ...] = fields_with_role("identifier")
LABELS: tuple[str, ...] = fields_with_role("label")
TARGET = "needs_support"
SUPPORT_LEVEL = "support_level"
TRUE_RISK = "true_risk"
UNIQUE_KEY = "booking_id"


#: The shape of a personal identity code, without its date and check rules: text without it holds
#: none, so only the few values with it are read by data_contracts.identity (a column at a time).
_CODE_SHAPE = r"[0-9]{6}[-+A-FU-Y_ .:/]?[0-9]{3}[0-9A-Y]"


def _not_a_personal_identity_code(series: pd.Series) -> pd.Series:
    """False where the text holds a personal identity code anywhere (data_contracts.identity)."""
    text = series.astype("string")
    shaped = text.str.contains(_CODE_SHAPE, case=False, regex=True)
    candidates = shaped.fillna(False).astype(bool)
    found = text[candidates].map(contains_personal_identity_code).astype(bool)
    return ~found.reindex(series.index, fill_value=False)


def _matches_whole(pattern: str) -> pa.Check:
    """The text matches ``pattern`` as a whole: as pydantic's Rust regex reads ``^...$``, where
    Python's re.match would let "837\\n" through (``$`` also matches before a final newline)."""
    return pa.Check(
        lambda series: series.astype("string").str.fullmatch(pattern),
        name="str_matches",
        error=f"str_matches('{pattern}')",
    )


def _support_level_matches_need(frame: pd.DataFrame) -> pd.Series:
    """support_level is set exactly when needs_support is true (and free when the outcome is unknown)."""
    if TARGET not in frame or SUPPORT_LEVEL not in frame:
        return pd.Series(True, index=frame.index)
    need = frame[TARGET].astype("boolean")
    has_level = frame[SUPPORT_LEVEL].notna()
    mismatch = (need.eq(True) & ~has_level) | (need.eq(False) & has_level)
    return ~mismatch.fillna(False).astype(bool)


SUPPORT_LEVEL_RULE = "must be set exactly when needs_support is true"
_SUPPORT_LEVEL_MATCHES_NEED = pa.Check(
    _support_level_matches_need,
    name="support_level_matches_need",
    error=f"support_level {SUPPORT_LEVEL_RULE}",
)
#: Record-wide checks (as pandera names them in failure cases) and the field each is reported on.
RECORD_CHECK_FIELDS: dict[str, str] = {str(_SUPPORT_LEVEL_MATCHES_NEED.error): SUPPORT_LEVEL}


def _column_checks(field: ContractField) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if field.minimum is not None:
        checks.append(pa.Check.ge(field.minimum))
    if field.maximum is not None:
        checks.append(pa.Check.le(field.maximum))
    if field.pattern is not None:
        checks.append(_matches_whole(field.pattern))
    if field.categories is not None:
        checks.append(pa.Check.isin(list(field.categories)))
    if field.role == "identifier":
        checks.append(
            pa.Check(
                _not_a_personal_identity_code,
                element_wise=False,
                error=PERSONAL_IDENTITY_CODE_PROBLEM,
                name="not_a_personal_identity_code",
            )
        )
    return checks


@cache
def booking_frame_schema(
    labelled: bool = False, fields: tuple[str, ...] | None = None
) -> pa.DataFrameSchema:
    """The pandera schema of a validated booking frame (labelled: with the optional outcome columns;
    ``fields``: of those fields only, e.g. the model's inputs)."""
    columns = {
        f.name: pa.Column(
            f.pandas_dtype,
            checks=_column_checks(f),
            nullable=f.nullable,
            unique=f.name == UNIQUE_KEY,
            required=f.in_every_record,
            description=f.description,
            title=f.name,
        )
        for f in CONTRACT_FIELDS
        if (f.name in fields if fields is not None else labelled or f.in_every_record)
    }
    return pa.DataFrameSchema(
        columns,
        checks=[_SUPPORT_LEVEL_MATCHES_NEED] if labelled and fields is None else [],
        strict=True,
        ordered=False,
        name=f"booking_records_v{CONTRACT_VERSION}" + ("_labelled" if labelled else ""),
    )


def contract_markdown() -> str:
    """The contract's documentation as Markdown (docs/contract.md is generated from this)."""
    lines = [
        f"# Booking-record contract, version {CONTRACT_VERSION}",
        "",
        "Generated by `kykytutka contract --markdown` from `data_contracts/booking.py`; do not edit.",
        "",
        "Roles: *feature* = model input; *protected* = fairness monitoring only, never an input; "
        "*identifier* and *context* = recorded, never inputs; *label* = outcome; "
        "*synthetic* = generated data only.",
        "",
        "Values have JSON's types, held strictly on every path (the API, the registered model, "
        'files): an integer is a JSON integer (not `"20"`, `20.0`, `1e1` or `true`), a boolean '
        '`true` or `false` (not `1`, `"true"` or `"yes"`), text a JSON string used as sent '
        "(spaces around it are refused, never trimmed), a booking time an ISO 8601 string (never a "
        "number). A frame may keep integers with gaps as floats (`7.0`); a CSV file's cells are "
        "text read by JSON's literals (`20`, `true`/`false` in any letter case; empty = missing). "
        "Unknown fields are refused. No identifier may contain a personal identity code, with or "
        "without its separator or a prefix.",
        "",
        "| field | role | type | allowed values | unit | if missing | meaning |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in CONTRACT_FIELDS:
        if f.categories is not None:
            allowed = ", ".join(f"`{c}`" for c in f.categories)
        elif f.minimum is not None or f.maximum is not None:
            allowed = f"{_fmt(f.minimum)} to {_fmt(f.maximum)}"
        elif f.pattern is not None:
            allowed = f"`{f.pattern}`"
        elif f.kind == "datetime":
            allowed = f"ISO 8601, {BOOKING_TIME_WINDOW}"
        else:
            allowed = "any"
        if f.nullable:
            missing = f.missing or "allowed"
        elif f.in_every_record:
            missing = "required"
        else:
            missing = "optional column"
        role = f.role + (", fairness group" if f.fairness_group else "")
        lines.append(
            f"| `{f.name}` | {role} | {f.kind} | {allowed} | {f.unit or ''} | {missing} "
            f"| {f.description} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else str(value)
