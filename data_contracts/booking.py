"""The one definition of a booking record: the context known when a client books an appointment.

Everything else derives from the pydantic models here: the pandera frame schema, the API's request
model, the feature lists and the list of protected attributes (see ``data_contracts.contract``).
Each field carries its documentation (meaning, unit, what a missing value means) and its *role*:

- ``identifier``: pseudonymous references, never model inputs;
- ``context``: recorded for audit and monitoring (time, place, consent), never model inputs;
- ``protected``: kept only for fairness monitoring, never model inputs (DOMAIN.md, the Austrian AMS case);
- ``feature``: a model input;
- ``label``: an outcome, known only after the fact (training and monitoring);
- ``synthetic``: only in generated data (the generator's true probability of need).

``fairness_group`` marks the fields whose groups monitoring compares (sex, age band, language, region).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from data_contracts.categories import (
    ClientGroup,
    ContactReason,
    EmploymentStatus,
    FirstLanguage,
    ReferralSource,
    Region,
    Sex,
    SupportLevel,
)
from data_contracts.identity import contains_personal_identity_code
from data_contracts.values import (
    BOOKING_TIME,
    BOOKING_TIME_WINDOW,
    PSEUDONYMOUS,
    TEXT,
)

__all__ = [
    "BOOKING_ID_PATTERN",
    "CLIENT_REF_PATTERN",
    "CONTRACT_VERSION",
    "MUNICIPALITY_PATTERN",
    "BookingRecord",
    "ClientGroup",
    "ContactReason",
    "EmploymentStatus",
    "FirstLanguage",
    "LabelledBookingRecord",
    "ReferralSource",
    "Region",
    "Sex",
    "SupportLevel",
    "looks_like_personal_identity_code",
]

#: Stamped into every model and every API answer; bump on any change to a field, its type or values.
#: 1.3.0: JSON types held strictly (no "20", 20.0 or true for an integer, no 1 or "yes" for a
#: boolean, no number for text or a time), no trimmed spaces, booking times within a plausible
#: window, and no personal identity code anywhere in client_ref or booking_id.
CONTRACT_VERSION = "1.3.0"

# Patterns are matched as a whole (pydantic's Rust regex, and re.fullmatch in the column-wise path)
# and spell their classes in ASCII: \d would also match other scripts' digits ("٨٣٧").
CLIENT_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,63}$"
BOOKING_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MUNICIPALITY_PATTERN = r"^[0-9]{3}$"

#: Kept for the packages that import it (serving.interop): true when a personal identity code
#: (henkilötunnus) is found anywhere in the text, with or without its separator or a prefix.
looks_like_personal_identity_code = contains_personal_identity_code


def _meta(
    role: str, *, unit: str | None = None, missing: str | None = None, fairness_group: bool = False
) -> dict[str, Any]:
    extra: dict[str, Any] = {"role": role, "fairness_group": fairness_group}
    if unit is not None:
        extra["unit"] = unit
    if missing is not None:
        extra["missing"] = missing
    return extra


class BookingRecord(BaseModel):
    """The context known at booking time. This is what a booking system sends for one assessment."""

    # No whole-model strictness: FastAPI hands over parsed JSON as Python objects, and a strict
    # model would refuse the ISO strings of booking_time and the strings of categories. Each field
    # says how strict it is instead (data_contracts.values): Field(strict=True) for integers,
    # booleans, numbers and text; TEXT for categories; BOOKING_TIME for the time. Spaces around a
    # value are refused, never trimmed.
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_ref: Annotated[
        str,
        Field(
            strict=True,
            pattern=CLIENT_REF_PATTERN,
            description="Pseudonymous client reference made by the booking system (8-64 letters, "
            "digits or _ . : -). Never contains a personal identity code (not even without its "
            "separator or behind a prefix); stored only as a keyed hash.",
            json_schema_extra=_meta("identifier"),
        ),
        PSEUDONYMOUS,
    ]
    booking_id: Annotated[
        str,
        Field(
            strict=True,
            pattern=BOOKING_ID_PATTERN,
            description="The booking system's id of this booking (1-64 letters, digits or "
            "_ . : -); unique within a file or batch. Never contains a personal identity code.",
            json_schema_extra=_meta("identifier"),
        ),
        PSEUDONYMOUS,
    ]
    booking_time: Annotated[
        datetime,
        BOOKING_TIME,
        Field(
            description="When the booking was made: an ISO 8601 date and time such as "
            "2025-03-04T09:15:00Z or 2025-03-04T11:15:00+02:00 (a time without zone is taken as "
            f"UTC, a date alone as its midnight), {BOOKING_TIME_WINDOW}. Never a number.",
            json_schema_extra=_meta("context", unit="timestamp"),
        ),
    ]
    age: Annotated[
        int,
        Field(
            strict=True,
            ge=15,
            le=70,
            description="Age in whole years at booking. The service is for people of working age. "
            "Protected: compared by age band for fairness, never a model input (statistical "
            "profiling that penalised age was found unlawful, DOMAIN.md).",
            json_schema_extra=_meta("protected", unit="years", fairness_group=True),
        ),
    ]
    sex: Annotated[
        Sex,
        TEXT,
        Field(
            description="Sex as registered. Protected: used only to monitor fairness.",
            json_schema_extra=_meta("protected", fairness_group=True),
        ),
    ]
    first_language: Annotated[
        FirstLanguage,
        TEXT,
        Field(
            description="First language as registered (fi, sv or other). Protected: used only to "
            "monitor fairness and to choose the language of explanations.",
            json_schema_extra=_meta("protected", fairness_group=True),
        ),
    ]
    region: Annotated[
        Region,
        TEXT,
        Field(
            description="Wellbeing services county (hyvinvointialue) of the sote centre. Not a model "
            "input, so that need is judged from the situation, not from where one lives.",
            json_schema_extra=_meta("context", fairness_group=True),
        ),
    ]
    municipality: Annotated[
        str,
        Field(
            strict=True,
            pattern=MUNICIPALITY_PATTERN,
            description="Statistics Finland three-digit municipality code of residence, e.g. 837.",
            json_schema_extra=_meta("context"),
        ),
    ]
    employment_status: Annotated[
        EmploymentStatus,
        TEXT,
        Field(
            description="Main activity at booking.",
            json_schema_extra=_meta("feature"),
        ),
    ]
    months_unemployed: Annotated[
        int | None,
        Field(
            strict=True,
            default=None,
            ge=0,
            le=600,
            description="Length of the current unemployment or lay-off in months; 0 when working, "
            "studying or outside the labour force.",
            json_schema_extra=_meta("feature", unit="months", missing="not recorded"),
        ),
    ]
    sickness_absence_days_12m: Annotated[
        int | None,
        Field(
            strict=True,
            default=None,
            ge=0,
            le=366,
            description="Days of sickness absence in the last 12 months (sickness certificates and "
            "Kela sickness allowance).",
            json_schema_extra=_meta("feature", unit="days", missing="not recorded"),
        ),
    ]
    healthcare_visits_12m: Annotated[
        int | None,
        Field(
            strict=True,
            default=None,
            ge=0,
            le=365,
            description="Primary health-care visits in the last 12 months.",
            json_schema_extra=_meta("feature", unit="visits", missing="not recorded"),
        ),
    ]
    contact_reason: Annotated[
        ContactReason | None,
        TEXT,
        Field(
            default=None,
            description="ICPC-2 chapter of the reason for the current contact (A, B, D, F, H, K, L, "
            "N, P, R, S, T, U, W, X, Y, Z).",
            json_schema_extra=_meta("feature", missing="not classified at booking"),
        ),
    ]
    complaint_duration_weeks: Annotated[
        int | None,
        Field(
            strict=True,
            default=None,
            ge=0,
            le=520,
            description="How long the current complaint has lasted, in weeks.",
            json_schema_extra=_meta("feature", unit="weeks", missing="not asked"),
        ),
    ]
    work_ability_score: Annotated[
        int | None,
        Field(
            strict=True,
            default=None,
            ge=0,
            le=10,
            description="Self-rated Work Ability Score (first item of the Work Ability Index): "
            "current work ability compared with lifetime best, 0-10. Bands: poor 0-5, "
            "moderate 6-7, good 8-9, excellent 10.",
            json_schema_extra=_meta("feature", unit="points 0-10", missing="not asked"),
        ),
    ]
    referral_source: Annotated[
        ReferralSource,
        TEXT,
        Field(
            description="Who referred the client, or self.",
            json_schema_extra=_meta("feature"),
        ),
    ]
    client_group: Annotated[
        ClientGroup,
        TEXT,
        Field(
            description="New client, found outside services, or already in services.",
            json_schema_extra=_meta("feature"),
        ),
    ]
    mental_health_concern: Annotated[
        bool | None,
        Field(
            strict=True,
            default=None,
            description="A mental-health concern is known or raised at booking.",
            json_schema_extra=_meta("feature", missing="not asked"),
        ),
    ]
    substance_use_concern: Annotated[
        bool | None,
        Field(
            strict=True,
            default=None,
            description="A substance-use concern is known or raised at booking.",
            json_schema_extra=_meta("feature", missing="not asked"),
        ),
    ]
    financial_difficulties: Annotated[
        bool | None,
        Field(
            strict=True,
            default=None,
            description="Financial difficulties or debt are known or raised at booking.",
            json_schema_extra=_meta("feature", missing="not asked"),
        ),
    ]
    consent_multi_agency: Annotated[
        bool,
        Field(
            strict=True,
            default=False,
            description="The client consents to multi-agency sharing of their data (the starting "
            "point of multi-agency work). Not a model input.",
            json_schema_extra=_meta("context"),
        ),
    ]


class LabelledBookingRecord(BookingRecord):
    """A booking record with its outcome, as used for training and monitoring."""

    needs_support: Annotated[
        bool | None,
        Field(
            strict=True,
            default=None,
            description="Outcome: a work-ability coordinator confirmed that the client needed "
            "work-ability support.",
            json_schema_extra=_meta("label", missing="outcome not yet known"),
        ),
    ]
    support_level: Annotated[
        SupportLevel | None,
        TEXT,
        Field(
            default=None,
            description="Outcome: the support level the client was steered to; set exactly when "
            "needs_support is true.",
            json_schema_extra=_meta("label", missing="no support needed, or not yet known"),
        ),
    ]
    true_risk: Annotated[
        float | None,
        Field(
            strict=True,
            default=None,
            ge=0.0,
            le=1.0,
            description="Synthetic data only: the generator's true probability that needs_support "
            "is true (the best any model could predict).",
            json_schema_extra=_meta("synthetic", unit="probability", missing="real data"),
        ),
    ]

    @model_validator(mode="after")
    def _support_level_matches_need(self) -> LabelledBookingRecord:
        if self.needs_support is False and self.support_level is not None:
            raise ValueError("support_level must be empty when needs_support is false")
        if self.needs_support is True and self.support_level is None:
            raise ValueError("support_level is required when needs_support is true")
        return self
