"""Request and response models: one enum per level, and one error naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from data_contracts.booking import SupportLevel
from serving.schemas import OutcomeRequest

pytestmark = [pytest.mark.code]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("none", "none"), ("team", SupportLevel.TEAM), ("self_care", SupportLevel.SELF_CARE)],
)
def test_an_outcome_takes_a_support_level_or_none(sent: str, kept: object) -> None:
    assert OutcomeRequest.model_validate({"support_level": sent}).support_level == kept


@pytest.mark.parametrize("sent", ["urgent", None, 3, "TEAM"])
def test_a_wrong_support_level_is_one_error_naming_the_field(sent: object) -> None:
    with pytest.raises(ValidationError) as caught:
        OutcomeRequest.model_validate({"support_level": sent})
    (error,) = caught.value.errors()
    assert error["loc"] == ("support_level",)
    assert error["msg"] == "Input should be 'none', 'self_care', 'consultation' or 'team'"
