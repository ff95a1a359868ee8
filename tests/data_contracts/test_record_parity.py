"""Small frames are validated record by record, large ones column by column (``KykytutkaModel.
predict``): both must accept and refuse the same values, and read them the same."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from data_contracts.contract import MODEL_FEATURES
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
CASES = [
    ("mental_health_concern", 1.0), ("mental_health_concern", "on"),
    ("mental_health_concern", " true "), ("mental_health_concern", 2),
    ("mental_health_concern", "yes"), ("employment_status", " unemployed "),
    ("employment_status", "Unemployed"), ("work_ability_score", "1_0"),
    ("work_ability_score", "1e1"), ("work_ability_score", " 7 "), ("work_ability_score", 7.0),
    ("work_ability_score", 7.5), ("work_ability_score", 11), ("work_ability_score", -1),
    ("work_ability_score", np.inf), ("work_ability_score", 1e400), ("work_ability_score", 2**70),
    ("months_unemployed", True), ("months_unemployed", np.nan), ("months_unemployed", "NaN"),
    ("contact_reason", "Q"), ("contact_reason", "\ud800"),
]  # fmt: skip


def _read(run: Any) -> tuple[str, Any]:
    try:
        return "accepted", run()
    except ContractError as error:
        return "refused", error.violations[0].field


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
        read_small, read_large = small[1], large[1]
        assert (read_small is None and pd.isna(read_large)) or str(read_small) == str(read_large)


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
