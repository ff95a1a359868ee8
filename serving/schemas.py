"""What the API takes and gives: request and response models.

A booking record is the contract's own ``BookingRecord`` (``data_contracts``); the support level is
``data_contracts.booking.SupportLevel``, a recommended level ``models.support.Recommendation`` (none
or a ``SupportLevel``) and the alert level ``models.packaged.AlertLevel`` everywhere, never a second
list of their values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from data_contracts.booking import BookingRecord, SupportLevel
from features.spec import Language
from models.packaged import AlertLevel
from models.support import Recommendation, RecommendationRule

# -- assessments -----------------------------------------------------------------------------------


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[BookingRecord] = Field(
        min_length=1,
        description="the bookings, each with its own booking_id; at most the service's "
        "KYKYTUTKA_MAX_BATCH (1,000 by default)",
    )


class SegmentOut(BaseModel):
    id: str = Field(min_length=1, description="client profile id, stable across retrains")
    name: str = Field(min_length=1, description="the profile's name in the answer's language")
    name_fi: str = Field(min_length=1)
    name_sv: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    support_level: SupportLevel = Field(
        description="the level most often confirmed for the profile's clients who needed support "
        "(the recommendation for this client is ``recommendation``)"
    )
    service_path: list[str] = Field(
        description="the next steps in the answer's language, led by the client's recommended "
        "level; without consent to multi-agency work, the steps that share data with another "
        "organisation are left out and asking for consent comes first"
    )
    service_steps: list[str] = Field(description="the same steps as codes (models/services.py)")


class ReasonOut(BaseModel):
    field: str = Field(min_length=1, description="a field of the booking-record contract")
    value: Any = Field(description="the value the booking gave it")
    contribution: float = Field(description="SHAP contribution in log-odds")
    direction: Literal["raises", "lowers"]
    text: str = Field(min_length=1, description="the reason as a sentence for the front desk")


class RecommendationOut(BaseModel):
    support_level: Recommendation = Field(
        description="the support level recommended for this client; never less than "
        "consultation when the alert is raised"
    )
    rule: RecommendationRule = Field(
        description="what decided it: expected_agreement (the level nearest the expected one), "
        "alert (raised to consultation by the alert) or most_signs (alerted, and the probability "
        "of needing the team reached the team threshold)"
    )
    probabilities: dict[Recommendation, float] = Field(
        description="calibrated probability that each level will be confirmed (sums to 1)"
    )
    reasons: list[ReasonOut] = Field(
        description="the largest contributions to the log-odds of the recommended level against "
        "the next lighter one (for none: self-care against none), largest first; 'raises' "
        "points to heavier support"
    )


class UnansweredOut(BaseModel):
    """A question of the model that this booking left unanswered: never a reason, listed so that
    staff can ask it."""

    field: str
    heading: str = Field(description='"not asked" or "not recorded" in the answer\'s language')
    text: str = Field(description="what was not asked, in the answer's language")


class ModelOut(BaseModel):
    name: str
    version: str
    contract_version: str


class Assessment(BaseModel):
    decision_id: str = Field(description="UUID of the audited decision")
    booking_id: str
    decided_at: str = Field(description="ISO 8601 time with its zone (UTC)")
    alert: bool = Field(description="whether the indicators raise an alert")
    alert_level: AlertLevel
    alert_probability: float = Field(ge=0, le=1)
    segment: SegmentOut
    recommendation: RecommendationOut
    reasons: list[ReasonOut] = Field(
        description="the largest contributions of the answered fields, largest first"
    )
    unanswered: list[UnansweredOut] = Field(
        description="the model's questions this booking left unanswered (never reasons)"
    )
    base_value: float = Field(description="log-odds; plus all contributions equals raw_score")
    raw_score: float = Field(description="log-odds")
    language: Language
    model: ModelOut


class BatchResponse(BaseModel):
    assessments: list[Assessment]


# -- outcomes --------------------------------------------------------------------------------------

_CONFIRMABLE = ["none", *(level.value for level in SupportLevel)]
_EXPECTED = ", ".join(f"'{v}'" for v in _CONFIRMABLE[:-1]) + f" or '{_CONFIRMABLE[-1]}'"


def _one_problem(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A union reports one error per member, each under a location of its own
    # ("support_level.str-enum[SupportLevel]"); the client gets one naming the field.
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": _EXPECTED}
        ) from None


#: "none": the client did not need work-ability support; otherwise the level they needed
ConfirmedLevel = Annotated[SupportLevel | Literal["none"], WrapValidator(_one_problem)]


class OutcomeRequest(BaseModel):
    """What a work-ability coordinator confirmed about the client of a decision."""

    model_config = ConfigDict(extra="forbid")

    support_level: ConfirmedLevel
    #: when it was confirmed (default: now); a time with its zone, not in the future
    confirmed_at: AwareDatetime | None = None

    @field_validator("confirmed_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        # 9999-12-31T23:59:59-14:00 is a valid time with a zone, but not one in UTC (the year
        # 10000): what cannot be said in UTC cannot be stored, nor compared with now.
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of the range of times (years 1 to 9999 in UTC)") from None


class OutcomeOut(BaseModel):
    decision_id: str
    needs_support: bool
    support_level: SupportLevel | None = Field(description="null: no support was needed")
    confirmed_at: str = Field(description="ISO 8601 time in UTC")
    recorded_by: str = Field(description="the name of the coordinator's API key")


# -- CDS Hooks feedback ----------------------------------------------------------------------------
