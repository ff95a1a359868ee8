"""The booking-record contract: every violation names its field, row and value, in code and CLI.

Each failure test corrupts one cell or column of a tiny generated cohort (see conftest.py) and then
checks the same failure twice: through ``load_bookings`` (``ContractError.violations``) and through
``kykytutka validate FILE`` (exit code 1 and a report naming field and value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
import pytest
from typer.testing import CliRunner

from data_contracts.booking import BookingRecord, LabelledBookingRecord
from data_contracts.contract import (
    BOOKING_COLUMNS,
    CONTRACT_FIELDS,
    IDENTIFIERS,
    LABELS,
    MODEL_FEATURES,
    PROTECTED_ATTRIBUTES,
    contract_markdown,
    fields_with_role,
)
from data_contracts.validation import ContractError, ContractViolation, load_bookings
from kykytutka.cli import app, write_frame
from synthetic.cohort import generate_cohort

pytestmark = [pytest.mark.data]

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

CorruptCell = Callable[[str, int, str], Path]
WriteCsv = Callable[[pd.DataFrame], Path]


# -- helpers -----------------------------------------------------------------------------------------


def violations_of(path: Path) -> list[ContractViolation]:
    """The violations ``load_bookings`` reports for a file that must be refused."""
    with pytest.raises(ContractError) as caught:
        load_bookings(path)
    assert caught.value.source == str(path)
    return caught.value.violations


def the_only_violation(path: Path) -> ContractViolation:
    violations = violations_of(path)
    assert len(violations) == 1, "\n".join(map(str, violations))
    return violations[0]


def assert_cli_rejects(path: Path, *fragments: str) -> None:
    result = runner.invoke(app, ["validate", str(path)])
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.exit_code == 1, result.output
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} not in report:\n{result.output}"


def assert_cli_accepts(path: Path) -> None:
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exception is None, result.exception
    assert result.exit_code == 0, result.output
    assert "valid against contract" in result.output


# -- a valid file ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cohort_200() -> pd.DataFrame:
    return generate_cohort("pirkanmaa", 200, seed=3)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_generated_cohort_file_is_valid(tmp_path: Path, cohort_200: pd.DataFrame, suffix: str):
    path = tmp_path / f"cohort{suffix}"
    write_frame(cohort_200, path)

    assert len(load_bookings(path)) == 200
    assert_cli_accepts(path)


def test_loading_the_csv_round_trips_to_the_generated_frame(
    tmp_path: Path, cohort_200: pd.DataFrame
):
    path = tmp_path / "cohort.csv"
    write_frame(cohort_200, path)

    loaded = load_bookings(path)

    for field in CONTRACT_FIELDS:
        assert loaded[field.name].dtype == field.pandas_dtype, field.name
    pd.testing.assert_frame_equal(loaded, cohort_200)


def test_tiny_cohort_fixture_is_valid(bookings_csv: Path):
    assert len(load_bookings(bookings_csv)) == 20
    assert_cli_accepts(bookings_csv)


# -- one failure each --------------------------------------------------------------------------------


def test_missing_column_is_named(raw_bookings: pd.DataFrame, write_csv: WriteCsv):
    path = write_csv(raw_bookings.drop(columns=["age"]))

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("age", None, None)
    assert violation.problem == "missing column"
    assert_cli_rejects(path, "field 'age'", "missing column")


def test_unknown_employment_status_category(corrupt_cell: CorruptCell):
    path = corrupt_cell("employment_status", 5, "retired")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("employment_status", 5, "retired")
    assert violation.problem.startswith("unknown category")
    assert_cli_rejects(path, "row 5", "field 'employment_status'", "'retired'")


def test_work_ability_score_11_is_out_of_range(corrupt_cell: CorruptCell):
    path = corrupt_cell("work_ability_score", 5, "11")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("work_ability_score", 5, "11")
    assert violation.problem == "out of range 0 to 10"
    assert_cli_rejects(path, "row 5", "field 'work_ability_score'", "'11'")


def test_negative_age_is_out_of_range(corrupt_cell: CorruptCell):
    path = corrupt_cell("age", 5, "-3")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("age", 5, "-3")
    assert violation.problem == "out of range 15 to 70"
    assert_cli_rejects(path, "row 5", "field 'age'", "'-3'")


def test_text_in_a_number_column(corrupt_cell: CorruptCell):
    path = corrupt_cell("age", 5, "forty")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("age", 5, "forty")
    assert violation.problem == "not a whole number"
    assert_cli_rejects(path, "row 5", "field 'age'", "'forty'")


def test_age_too_large_for_an_integer_reports_the_value_as_written(corrupt_cell: CorruptCell):
    """Regression: casting 1e30 to Int64 wrapped to -9223372036854775808, which was reported."""
    path = corrupt_cell("age", 5, "1e30")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("age", 5, "1e30")
    assert_cli_rejects(path, "row 5", "field 'age'", "'1e30'")


def test_duplicated_booking_id_names_both_rows(
    raw_bookings: pd.DataFrame, corrupt_cell: CorruptCell
):
    duplicate = raw_bookings.loc[2, "booking_id"]  # data row 3
    path = corrupt_cell("booking_id", 5, duplicate)

    violations = violations_of(path)

    assert [(v.field, v.row, v.value) for v in violations] == [
        ("booking_id", 3, duplicate),
        ("booking_id", 5, duplicate),
    ]
    assert all(v.problem == "duplicated; must be unique" for v in violations)
    assert_cli_rejects(path, "row 3", "row 5", "field 'booking_id'", f"'{duplicate}'")


def test_empty_file_of_zero_bytes(tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("file", None, None)
    assert violation.problem == "no booking records (empty input)"
    assert_cli_rejects(path, "field 'file'", "no booking records")


def test_header_only_csv_has_no_records(raw_bookings: pd.DataFrame, write_csv: WriteCsv):
    path = write_csv(raw_bookings.iloc[0:0])
    assert path.read_text().strip() == ",".join(raw_bookings.columns)

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("file", None, None)
    assert violation.problem == "no booking records (empty input)"
    assert_cli_rejects(path, "field 'file'", "no booking records")


def test_unknown_extra_column_is_named(raw_bookings: pd.DataFrame, write_csv: WriteCsv):
    path = write_csv(raw_bookings.assign(favourite_colour="blue"))

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("favourite_colour", None, None)
    assert violation.problem == "unknown column: not in the contract"
    assert_cli_rejects(path, "field 'favourite_colour'", "unknown column")


def test_client_ref_like_a_personal_identity_code(corrupt_cell: CorruptCell):
    path = corrupt_cell("client_ref", 5, "131052-308T")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("client_ref", 5, "131052-308T")
    assert violation.problem.startswith("contains a personal identity code")
    # The report names the row and field but never prints the code itself (terminals, cron mail).
    assert_cli_rejects(path, "row 5", "field 'client_ref'", "value hidden: an identifier")
    assert "131052-308T" not in runner.invoke(app, ["validate", str(path)]).output


def test_support_level_set_while_needs_support_is_false(
    tiny_cohort: pd.DataFrame, corrupt_cell: CorruptCell
):
    """Regression: the record-wide check was reported once per column of the row (21 times)."""
    row = 1 + int(tiny_cohort.index[tiny_cohort["needs_support"].eq(False)][0])
    assert pd.isna(tiny_cohort.loc[row - 1, "support_level"])
    path = corrupt_cell("support_level", row, "team")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("support_level", row, "team")
    assert "needs_support" in violation.problem
    assert_cli_rejects(path, "1 contract violation(s)", f"row {row}", "field 'support_level'")


def test_unreadable_boolean(corrupt_cell: CorruptCell):
    path = corrupt_cell("mental_health_concern", 5, "maybe")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == (
        "mental_health_concern",
        5,
        "maybe",
    )
    assert violation.problem == "not true/false"
    assert_cli_rejects(path, "row 5", "field 'mental_health_concern'", "'maybe'")


def test_bad_iso_timestamp(corrupt_cell: CorruptCell):
    path = corrupt_cell("booking_time", 5, "2025-02-30T10:00:00Z")  # no 30 February

    violation = the_only_violation(path)

    assert (violation.field, violation.row) == ("booking_time", 5)
    assert violation.value == "2025-02-30T10:00:00Z"
    assert violation.problem == "not an ISO 8601 date and time"
    assert_cli_rejects(path, "row 5", "field 'booking_time'", "'2025-02-30T10:00:00Z'")


def test_unsupported_file_extension(tmp_path: Path):
    path = tmp_path / "bookings.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("file", None, "bookings.xlsx")
    assert violation.problem.startswith("unsupported file type")
    assert_cli_rejects(path, "field 'file'", "unsupported file type", "'bookings.xlsx'")


def test_missing_file(tmp_path: Path):
    path = tmp_path / "no-such-bookings.csv"

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == ("file", None, str(path))
    assert violation.problem == "no such file"
    assert_cli_rejects(path, "field 'file'", "no such file", str(path))


# -- the API's request model -------------------------------------------------------------------------

VALID_RECORD: dict[str, Any] = {
    "client_ref": "syn-0123456789abcdef",
    "booking_id": "PIR-1-00000042",
    "booking_time": "2025-03-04T09:15:00Z",
    "age": 42,
    "sex": "female",
    "first_language": "fi",
    "region": "pirkanmaa",
    "municipality": "837",
    "employment_status": "unemployed",
    "months_unemployed": 14,
    "work_ability_score": 6,
    "referral_source": "employment_services",
    "client_group": "new_client",
}


def error_locations(**changes: Any) -> list[tuple[int | str, ...]]:
    with pytest.raises(pydantic.ValidationError) as caught:
        BookingRecord.model_validate({**VALID_RECORD, **changes})
    return [error["loc"] for error in caught.value.errors()]


def test_booking_record_from_a_valid_dict():
    record = BookingRecord.model_validate(VALID_RECORD)

    assert record.work_ability_score == 6
    assert record.employment_status == "unemployed"
    assert record.booking_time.utcoffset() is not None
    assert record.healthcare_visits_12m is None  # optional features may be left out
    assert set(record.model_dump()) == set(BOOKING_COLUMNS)


def test_every_generated_record_is_a_valid_labelled_booking_record(tiny_cohort: pd.DataFrame):
    records = json.loads(tiny_cohort.to_json(orient="records", date_format="iso"))
    for record in records:
        LabelledBookingRecord.model_validate(record)


def test_booking_record_refuses_work_ability_score_11():
    assert error_locations(work_ability_score=11) == [("work_ability_score",)]


def test_booking_record_refuses_unknown_category():
    assert error_locations(employment_status="retired") == [("employment_status",)]


def test_booking_record_refuses_extra_field():
    assert error_locations(favourite_colour="blue") == [("favourite_colour",)]


def test_booking_record_refuses_personal_identity_code():
    assert error_locations(client_ref="131052-308T") == [("client_ref",)]
    assert error_locations(booking_id="hetu:131052-308T") == [("booking_id",)]


def test_booking_record_keeps_values_as_sent_and_reads_times_as_utc():
    record = BookingRecord.model_validate(
        {**VALID_RECORD, "booking_time": "2025-03-04T11:15:00+02:00"}
    )
    assert record.booking_time == datetime(2025, 3, 4, 9, 15, tzinfo=UTC)
    assert record.booking_time.utcoffset() == timedelta(0)
    assert error_locations(booking_id=" PIR-1-00000042") == [("booking_id",)]  # not trimmed


# -- strict types in files (CSV text is read by JSON's literals) -------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("work_ability_score", " 7", "not a whole number"),
        ("work_ability_score", "7 ", "not a whole number"),
        ("work_ability_score", "+7", "not a whole number"),
        ("work_ability_score", "07", "not a whole number"),
        ("work_ability_score", "7.0", "not a whole number"),
        ("work_ability_score", "1e1", "not a whole number"),
        ("work_ability_score", "1_0", "not a whole number"),
        ("work_ability_score", "true", "not a whole number"),
        ("work_ability_score", "٣", "not a whole number"),
        ("age", "9" * 5000, "out of range 15 to 70"),
        ("mental_health_concern", "yes", "not true/false"),
        ("mental_health_concern", "1", "not true/false"),
        ("mental_health_concern", "0", "not true/false"),
        ("mental_health_concern", "off", "not true/false"),
        ("mental_health_concern", " true", "not true/false"),
        ("consent_multi_agency", "t", "not true/false"),
        ("municipality", "٨٣٧", "does not match the pattern ^[0-9]{3}$"),
        ("municipality", " 837", "does not match the pattern ^[0-9]{3}$"),
        ("booking_id", "PIR-1 ", "does not match the pattern"),
        ("employment_status", " unemployed", "unknown category"),
        ("booking_time", "0001-01-01T00:00:00Z", "outside the plausible booking times"),
        ("booking_time", "9999-12-31T23:59:59-14:00", "outside the plausible booking times"),
        ("booking_time", "2999-01-01T00:00:00Z", "outside the plausible booking times"),
        ("booking_time", "1700000000", "not an ISO 8601 date and time"),
        ("booking_time", "2025-03-04 09:15:00", "not an ISO 8601 date and time"),
    ],
)
def test_a_csv_cell_of_the_wrong_type_is_named_with_its_value(
    corrupt_cell: CorruptCell, field: str, value: str, problem: str
):
    path = corrupt_cell(field, 5, value)

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == (field, 5, value)
    assert violation.problem.startswith(problem), violation.problem
    assert_cli_rejects(path, "row 5", f"field {field!r}", f"(value: {value!r})")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("booking_id", "FI131052-308T"),
        ("booking_id", "131052308T"),
        ("booking_id", "hetu:131052-308T"),
        ("booking_id", "131052_308T"),
        ("client_ref", "FI131052-308T"),
        ("client_ref", "client-131052308T"),
        ("client_ref", "hetu:131052-308T"),
        ("client_ref", "131052_308T"),
    ],
)
def test_a_personal_identity_code_in_an_identifier_cell_is_named_never_printed(
    corrupt_cell: CorruptCell, field: str, value: str
):
    path = corrupt_cell(field, 5, value)

    violation = the_only_violation(path)

    assert (violation.field, violation.row, violation.value) == (field, 5, value)
    assert violation.problem.startswith("contains a personal identity code")
    assert_cli_rejects(path, "row 5", f"field {field!r}", "value hidden")
    output = runner.invoke(app, ["validate", str(path)]).output
    assert "308T" not in output and "131052" not in output


@pytest.mark.parametrize(
    ("field", "value", "read"),
    [
        ("mental_health_concern", "TRUE", True),
        ("mental_health_concern", "false", False),
        ("work_ability_score", "0", 0),
        ("months_unemployed", "-0", 0),
        ("booking_id", "BK-20260101-0042", "BK-20260101-0042"),
        ("booking_id", "booking-000123", "booking-000123"),
        ("booking_time", "2025-03-04", pd.Timestamp("2025-03-04", tz="UTC")),
        ("booking_time", "2025-03-04T11:15+02:00", pd.Timestamp("2025-03-04T09:15", tz="UTC")),
    ],
)
def test_csv_text_of_the_right_type_is_read(
    corrupt_cell: CorruptCell, field: str, value: str, read: Any
):
    frame = load_bookings(corrupt_cell(field, 5, value))
    assert frame[field].iloc[4] == read


def test_typed_columns_must_hold_their_types(tiny_cohort: pd.DataFrame, tmp_path: Path):
    """A Parquet file is typed: numbers written as text, or a municipality as a number, are
    refused (a CSV file's cells are text and read as such)."""
    typed = tiny_cohort.astype({"work_ability_score": "string"})
    typed["municipality"] = typed["municipality"].astype(int)
    path = tmp_path / "typed.parquet"
    typed.to_parquet(path, index=False)

    violations = violations_of(path)

    present = int(tiny_cohort["work_ability_score"].notna().sum())
    assert {v.field for v in violations} == {"work_ability_score", "municipality"}
    assert sum(v.field == "work_ability_score" for v in violations) == present
    assert sum(v.field == "municipality" for v in violations) == len(tiny_cohort)
    assert {v.problem for v in violations} == {"not a whole number", "not text"}


def test_a_value_holding_a_personal_identity_code_is_never_printed():
    violation = ContractViolation("booking_id", "duplicated; must be unique", 3, "x-131052-308T")
    assert "308T" not in str(violation) and "value hidden" in str(violation)
    assert "BK-1" in str(ContractViolation("booking_id", "duplicated; must be unique", 3, "BK-1"))


# -- the JSON Schema (the API's OpenAPI is generated from it) ---------------------------------------


def test_the_json_schema_still_describes_every_field_with_ascii_patterns():
    schema = BookingRecord.model_json_schema()
    properties = schema["properties"]
    assert set(properties) == set(BOOKING_COLUMNS)
    assert schema["additionalProperties"] is False
    assert properties["age"] == properties["age"] | {"type": "integer", "minimum": 15}
    assert properties["booking_time"]["type"] == "string"
    assert properties["booking_time"]["format"] == "date-time"
    assert properties["municipality"]["pattern"] == "^[0-9]{3}$"
    assert properties["consent_multi_agency"]["type"] == "boolean"
    assert {"type": "integer", "minimum": 0, "maximum": 10} in [
        {k: v for k, v in option.items()} for option in properties["work_ability_score"]["anyOf"]
    ]
    assert "\\d" not in json.dumps(schema)  # \d matches other scripts' digits too
    patterns = [p["pattern"] for p in properties.values() if "pattern" in p]
    assert len(patterns) == 3 and all(p.startswith("^") and p.endswith("$") for p in patterns)


def test_code_free_references_never_hold_a_personal_identity_code():
    import numpy as np

    from data_contracts.booking import CLIENT_REF_PATTERN
    from data_contracts.identity import contains_personal_identity_code
    from data_contracts.values import code_free_reference

    rng = np.random.default_rng(0)
    hex_digits = [f"{n:015x}" for n in rng.integers(0, 2**60, size=20_000, dtype=np.int64)]
    # The old form could hold one: 131052 014 has the check character A.
    assert contains_personal_identity_code("syn-a131052014abc")
    assert not contains_personal_identity_code(code_free_reference("syn", "a131052014abc"))
    made = [code_free_reference("syn", h) for h in hex_digits]
    assert not any(contains_personal_identity_code(ref) for ref in made)
    assert all(re.fullmatch(CLIENT_REF_PATTERN, ref) for ref in made)
    assert code_free_reference("syn", "4c2402557150" + "b73") == "syn-4c240-25571-50b73"


# -- the derived field lists and the generated documentation ----------------------------------------


def test_model_features_are_exactly_the_booking_context_and_protected_fields_stay_protected():
    """Spelled out, so that a field given the wrong role (age as a feature, say) fails here."""
    assert set(MODEL_FEATURES) == {
        "employment_status",
        "months_unemployed",
        "sickness_absence_days_12m",
        "healthcare_visits_12m",
        "contact_reason",
        "complaint_duration_weeks",
        "work_ability_score",
        "referral_source",
        "client_group",
        "mental_health_concern",
        "substance_use_concern",
        "financial_difficulties",
    }
    assert set(PROTECTED_ATTRIBUTES) == {"age", "sex", "first_language"}
    assert set(IDENTIFIERS) == {"client_ref", "booking_id"}
    assert set(LABELS) == {"needs_support", "support_level"}
    assert {"region", "municipality", "booking_time", "consent_multi_agency"} == set(
        fields_with_role("context")
    )


def test_docs_contract_md_is_the_generated_markdown():
    committed = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    assert committed == contract_markdown(), (
        "docs/contract.md is stale: run `kykytutka contract --markdown > docs/contract.md`"
    )
