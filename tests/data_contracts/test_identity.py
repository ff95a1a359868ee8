"""Personal identity codes found inside identifiers, and ordinary ids left alone."""

from __future__ import annotations

import random

import pytest

from data_contracts.identity import check_character, contains_personal_identity_code

pytestmark = pytest.mark.code


@pytest.mark.parametrize(
    "text",
    [
        "131052-308T",
        "131052-308t",
        "FI131052-308T",
        "131052308T",
        "hetu:131052-308T",
        "131052_308T",
        "131052 308T",
        "client-131052A308T",
        "131052-308Tabc",
        "131052--308T",
        "13-10-52-308T",
        "13.10.52 - 308T",
    ],
)
def test_codes_are_found_with_or_without_separators_and_prefixes(text: str) -> None:
    assert contains_personal_identity_code(text)


@pytest.mark.parametrize(
    "text",
    [
        "131052-308X",  # wrong check character: not a valid code
        "310299A123B",  # 31 February
        "BK-20260101-0042",
        "booking-000123",
        "2026-01-15-0001",
        "91310523080",  # inside a longer run of digits
        "1234567890123456",
        "",
    ],
)
def test_ordinary_ids_pass(text: str) -> None:
    assert not contains_personal_identity_code(text)


def test_check_character_is_the_remainder_by_31() -> None:
    assert (
        check_character("131052", "308") == "T"
    )  # the example of the Digital and Population Data Services Agency


@pytest.mark.parametrize("digits", [10, 16, 19])
def test_long_numeric_ids_are_rarely_refused(digits: int) -> None:
    draw = random.Random(digits)
    ids = ["".join(draw.choice("0123456789") for _ in range(digits)) for _ in range(20_000)]
    refused = sum(contains_personal_identity_code(i) for i in ids) / len(ids)
    # A whole 10-digit id may be a code (a real date and the right check digit); a longer run never.
    assert refused < (0.002 if digits == 10 else 1e-9)
