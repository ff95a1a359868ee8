"""Small frames are validated record by record, large ones column by column (``KykytutkaModel.
predict``), and the API validates its JSON bodies with the same pydantic model: all must accept and
refuse the same values (data_contracts.values), and read them the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pydantic
import pytest

from data_contracts.booking import BookingRecord
from data_contracts.contract import FIELDS_BY_NAME, MODEL_FEATURES
from data_contracts.records import validate_records
from data_contracts.validation import ContractError, prepare_records

pytestmark = [pytest.mark.data]

BASE: dict[str, Any] = {
    "employment_status": "unemployed",
    "months_unemployed": 30,
    "sickness_absence_days_12m": 0,
    "healthcare_visits_12m": 3,
    "contact_reason": "R",
    "complaint_duration_weeks": 8,
    "work_ability_score": 4,
    "referral_source": "self",
    "client_group": "new_client",
    "mental_health_concern": None,
    "substance_use_concern": None,
    "financial_difficulties": None,
}
#: A whole booking record as a booking system sends it (JSON).
FULL: dict[str, Any] = {
    "client_ref": "syn-4c240-25571-5b73b",
    "booking_id": "BK-20260101-0042",
    "booking_time": "2025-03-04T09:15:00Z",
    "age": 42,
    "sex": "female",
    "first_language": "fi",
    "region": "pirkanmaa",
    "municipality": "837",
    **BASE,
    "consent_multi_agency": False,
}
CASES = [
    ("mental_health_concern", 1.0), ("mental_health_concern", "on"),
    ("mental_health_concern", " true "), ("mental_health_concern", 2),
    ("mental_health_concern", "yes"), ("employment_status", " unemployed "),
    ("employment_status", "Unemployed"), ("work_ability_score", "1_0"),
    ("work_ability_score", "1e1"), ("work_ability_score", " 7 "), ("work_ability_score", 7.0),
    ("work_ability_score", 7.5), ("work_ability_score", 11), ("work_ability_score", -1),
    ("work_ability_score", np.inf), ("work_ability_score", 1e400), ("work_ability_score", 2**70),
    ("work_ability_score", True), ("work_ability_score", "7"), ("work_ability_score", np.int64(7)),
    ("months_unemployed", True), ("months_unemployed", np.nan), ("months_unemployed", "NaN"),
    ("mental_health_concern", np.True_), ("mental_health_concern", "true"),
    ("mental_health_concern", 0), ("contact_reason", 1), ("contact_reason", b"R"),
    ("contact_reason", "Q"), ("contact_reason", "\ud800"),
]  # fmt: skip


def _read(run: Any) -> tuple[str, Any]:
    try:
        return "accepted", run()
    except ContractError as error:
        return "refused", error.violations[0].field


def _same_reading(read_small: Any, read_large: Any) -> bool:
    if read_small is None:
        return bool(pd.isna(read_large))
    if isinstance(read_small, datetime):
        return pd.Timestamp(read_small) == pd.Timestamp(read_large)
    return str(read_small) == str(read_large)


@pytest.mark.parametrize(("field", "value"), CASES, ids=[f"{f}={v!r}" for f, v in CASES])
def test_small_and_large_frames_accept_and_refuse_alike(field: str, value: Any) -> None:
    record = BASE | {field: value}
    small = _read(lambda: validate_records(pd.DataFrame([record]), MODEL_FEATURES)[0][field])
    large = _read(
        lambda: prepare_records(pd.DataFrame([record] * 600), MODEL_FEATURES)[field].iloc[0]
    )
    assert small[0] == large[0], (small, large)
    if small[0] == "refused":
        assert small[1] == large[1] == field
    else:
        assert _same_reading(small[1], large[1]), (small, large)


# -- hostile values for every kind of field, through the API's model and both frame paths ----------

#: JSON text of values every path refuses, by the kind of the field (data_contracts.values).
HOSTILE: dict[str, list[str]] = {
    "integer": [
        "true", "false", '"20"', '" 20 "', '"7"', '"1_0"', '"1e1"', '"٣"', '"7 "', "7.5", "1e400",
        '"NaN"', "[7]", '{"value": 7}', "-1", "1180591620717411303424",
    ],
    "work_ability_score": ["11", "10.5"],
    "age": ["14", "71"],
    "boolean": [
        '"off"', '"true"', '"false"', "1", "0", '"yes"', '"no"', '" true"', '"True"', "2",
        "1.0", "[]", '"t"',
    ],
    "category": ['" unemployed "', '"Unemployed"', '"unemployed\\n"', "1", "true", '"Q"', "[]"],
    "text": ["837", "837.0", "true", "[]", '"837 "', '" 837"', '"837\\n"'],
    "municipality": ['"٨٣٧"', '"８３７"', '"83"', '"8370"', '"83a"', '"837\\n"', '"\\t837"'],
    "booking_id": ['" BK-1"', '"BK-1 "', '"BK 1"', '"BK-1\\n"', '""', '"BK/1"', '"ä-1"'],
    "client_ref": ['" syn-4c240-25571"', '"syn-4c240-25571 "', '"short"', '"syn\\u00a04c240-25571"'],
    "booking_time": [
        "1700000000", "1700000000.5", '"1700000000"', "true", '"0001-01-01T00:00:00Z"',
        '"0001-01-01"', '"9999-12-31T23:59:59-14:00"', '"9999-12-31T23:59:59Z"',
        '"1999-12-31T23:59:59Z"', '"2000-01-01T01:59:59+02:00"', '"2999-01-01T00:00:00Z"',
        '"2025-03-04 09:15:00"', '"20250304T091500Z"', '"2025-02-30T10:00:00Z"',
        '"2025-03-04T09:15:00+24:00"', '"2025-03-04T24:00:00Z"', '" 2025-03-04T09:15:00Z"',
        '"2025-03-04T09:15:00Z "', '"٢٠٢٥-03-04T09:15:00Z"', '"2025-W10-2"',
        '"2025-03-04t09:15:00z"', '"2025-03-04T09:15:00+0200"', '"2025-063"', '""',
    ],
}  # fmt: skip
#: Which fields each kind of hostile value is tried in.
HOSTILE_FIELDS: dict[str, tuple[str, ...]] = {
    "integer": ("age", "work_ability_score", "months_unemployed"),
    "boolean": ("mental_health_concern", "consent_multi_agency"),
    "category": ("employment_status", "sex", "contact_reason"),
    "text": ("client_ref", "booking_id", "municipality"),
    "work_ability_score": ("work_ability_score",),
    "age": ("age",),
    "municipality": ("municipality",),
    "booking_id": ("booking_id",),
    "client_ref": ("client_ref",),
    "booking_time": ("booking_time",),
}
HOSTILE_CASES = [
    (field, text)
    for kind, texts in HOSTILE.items()
    for text in texts
    for field in HOSTILE_FIELDS[kind]
]


def _frames(record: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The record alone (the record-by-record path), and first of 600 (the column-wise path)."""
    others = [FULL | {"booking_id": f"row-{i:04d}"} for i in range(1, 600)]
    return pd.DataFrame([record]), pd.DataFrame([record, *others])


def _paths(record: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """What the API's model, the record path and the column path make of one record."""

    def api() -> Any:
        try:
            return BookingRecord.model_validate(record).model_dump()
        except pydantic.ValidationError as error:
            raise ContractError(
                [_violation(e) for e in error.errors()]  # the API names the field as its location
            ) from None

    small, large = _frames(record)
    return {
        "api": _read(api),
        "records": _read(lambda: validate_records(small)[0]),
        "columns": _read(lambda: prepare_records(large).iloc[0].to_dict()),
    }


def _violation(error: Any) -> Any:
    from data_contracts.validation import ContractViolation

    return ContractViolation(".".join(str(p) for p in error["loc"]), error["msg"])


@pytest.mark.parametrize(
    ("field", "text"), HOSTILE_CASES, ids=[f"{f}={t}" for f, t in HOSTILE_CASES]
)
def test_a_hostile_value_is_refused_on_every_path_by_its_field(field: str, text: str) -> None:
    value = json.loads(text)
    outcomes = _paths(FULL | {field: value})
    assert outcomes == {path: ("refused", field) for path in outcomes}, outcomes


def test_a_hostile_case_covers_every_field_kind() -> None:
    kinds = {FIELDS_BY_NAME[field].kind for field, _ in HOSTILE_CASES}
    assert kinds == {"integer", "boolean", "category", "string", "datetime"}


@pytest.mark.parametrize(
    ("field", "text"),
    [("work_ability_score", text) for text in ("1e1", "10.0", "7.0", "2e0", "0.0", "-0.0")]
    + [("age", "42.0"), ("age", "4.2e1"), ("months_unemployed", "3.0")],
)
def test_a_json_float_is_not_an_integer_for_the_api(field: str, text: str) -> None:
    """JSON keeps 10 and 10.0 apart, so the API refuses the float (1e1 is the float 10.0). A
    frame cannot keep them apart (see the next test)."""
    with pytest.raises(pydantic.ValidationError) as caught:
        BookingRecord.model_validate(FULL | {field: json.loads(text)})
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]


def test_a_frame_keeps_integers_with_gaps_as_floats_and_both_paths_read_them() -> None:
    """pandas stores JSON [7, null] as [7.0, NaN] (MLflow's records, pd.DataFrame(records)): in a
    float column a whole number is the integer, on both paths; in an object column a float is a
    float, refused on both."""
    rows = [FULL | {"booking_id": "b-1", "work_ability_score": 7}, FULL | {"booking_id": "b-2"}]
    rows[1]["work_ability_score"] = None
    floats = pd.DataFrame(rows)
    assert pd.api.types.is_float_dtype(floats["work_ability_score"])
    assert validate_records(floats)[0]["work_ability_score"] == 7
    assert prepare_records(floats)["work_ability_score"].iloc[0] == 7

    mixed = pd.DataFrame(rows).astype({"work_ability_score": object})
    mixed.loc[0, "work_ability_score"] = 7.0
    assert mixed["work_ability_score"].dtype == object
    for validate in (validate_records, prepare_records):
        with pytest.raises(ContractError) as caught:
            validate(mixed)
        assert caught.value.violations[0].field == "work_ability_score"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("booking_id", "FI131052-308T"),
        ("booking_id", "131052308T"),
        ("booking_id", "hetu:131052-308T"),
        ("booking_id", "131052_308T"),
        ("booking_id", "131052-308T"),
        ("booking_id", "apt-131052A308T-1"),
        ("client_ref", "FI131052-308T"),
        ("client_ref", "131052308T"),
        ("client_ref", "hetu:131052-308T"),
        ("client_ref", "131052_308T"),
        ("client_ref", "fi131052-308t"),
        ("client_ref", "client.131052.308T"),
    ],
)
def test_a_personal_identity_code_in_an_identifier_is_refused_and_never_echoed(
    field: str, value: str
) -> None:
    outcomes = _paths(FULL | {field: value})
    assert outcomes == {path: ("refused", field) for path in outcomes}, outcomes
    small, large = _frames(FULL | {field: value})
    for validate, frame in ((validate_records, small), (prepare_records, large)):
        with pytest.raises(ContractError) as caught:
            validate(frame)
        assert "personal identity code" in caught.value.violations[0].problem
        assert value not in str(caught.value) and "308" not in str(caught.value)
    with pytest.raises(pydantic.ValidationError) as error:
        BookingRecord.model_validate(FULL | {field: value})
    assert "308" not in error.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("booking_id", "BK-20260101-0042"),
        ("booking_id", "booking-000123"),
        ("booking_id", "PIR-1-n00000042"),
        ("booking_id", "PIR-131052-n00000042"),
        ("booking_id", "20260101"),
        ("booking_id", "apt-1"),
        ("booking_id", "131052-308A"),  # wrong check character: not a valid code
        ("client_ref", "syn-4c240-25571-5b73b"),
        ("client_ref", "syn-0123456789abcdef"),
        ("client_ref", "CLIENT-LOG-0001"),
        ("client_ref", "BK-20260101-0042"),
        ("municipality", "091"),
        ("booking_time", "2025-03-04"),
        ("booking_time", "2025-03-04T11:15+02:00"),
        ("booking_time", "2025-03-04T09:15:00.123456789Z"),
        ("booking_time", "2025-03-04T09:15:00.5-03:30"),
        ("booking_time", "2000-01-01T02:00:00+02:00"),
        ("booking_time", "2025-03-04T09:15:00"),
        ("consent_multi_agency", True),
        ("age", 15),
        ("age", 70),
        ("work_ability_score", 0),
        ("work_ability_score", None),
        ("contact_reason", None),
    ],
)
def test_ordinary_values_pass_every_path_and_read_alike(field: str, value: Any) -> None:
    outcomes = _paths(FULL | {field: value})
    assert {path: outcome[0] for path, outcome in outcomes.items()} == dict.fromkeys(
        outcomes, "accepted"
    ), outcomes
    read = [outcome[1][field] for outcome in outcomes.values()]
    assert all(_same_reading(read[0], other) for other in read[1:]), read


def test_an_unknown_field_is_refused_on_every_path() -> None:
    outcomes = _paths(FULL | {"favourite_colour": "blue"})
    assert outcomes == {path: ("refused", "favourite_colour") for path in outcomes}, outcomes


def test_booking_times_are_read_as_utc_alike() -> None:
    outcomes = _paths(FULL | {"booking_time": "2025-03-04T11:15:00+02:00"})
    expected = datetime(2025, 3, 4, 9, 15, tzinfo=UTC)
    assert {path: pd.Timestamp(read[1]["booking_time"]) for path, read in outcomes.items()} == (
        dict.fromkeys(outcomes, pd.Timestamp(expected))
    )


def test_the_booking_time_window_ends_two_days_after_now() -> None:
    now = datetime.now(UTC)
    soon = (now + timedelta(days=1)).isoformat()
    later = (now + timedelta(days=3)).isoformat()
    assert all(o[0] == "accepted" for o in _paths(FULL | {"booking_time": soon}).values())
    refused = _paths(FULL | {"booking_time": later})
    assert refused == {path: ("refused", "booking_time") for path in refused}


def test_typed_time_columns_outside_the_window_are_refused_without_overflow() -> None:
    """A Parquet file may hold times pandas keeps in microseconds, as far as year 9999."""
    for moment in (datetime(9999, 12, 31, 23, 59, 59), datetime(1, 1, 1)):
        small, large = _frames(FULL)
        small["booking_time"] = pd.Series([moment], dtype="datetime64[us]")
        times = [moment] + [datetime(2025, 3, 4, 9, 15)] * (len(large) - 1)
        large["booking_time"] = pd.Series(times, dtype="datetime64[us]")
        assert small["booking_time"].dtype == large["booking_time"].dtype == "datetime64[us]"
        for validate, frame in ((validate_records, small), (prepare_records, large)):
            with pytest.raises(ContractError) as caught:
                validate(frame)
            assert caught.value.violations[0].field == "booking_time"
            assert "outside" in caught.value.violations[0].problem


def test_a_repeated_column_is_refused_by_name() -> None:
    frame = pd.DataFrame([[*BASE.values(), 0]], columns=[*BASE, "months_unemployed"])
    for validate in (validate_records, prepare_records):
        with pytest.raises(ContractError, match="months_unemployed"):
            validate(frame, MODEL_FEATURES)


def test_a_nul_byte_in_a_csv_is_refused(tmp_path: Any) -> None:
    from data_contracts.validation import read_bookings

    path = tmp_path / "nul.csv"
    path.write_bytes(b"employment_status\nunemployed\x00; DROP TABLE x\n")
    with pytest.raises(ContractError, match="NUL byte on line 2"):
        read_bookings(path)
