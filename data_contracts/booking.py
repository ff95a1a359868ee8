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

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Stamped into every model and every API answer; bump on any change to a field, its type or values.
CONTRACT_VERSION = "1.2.0"

# A Finnish personal identity code (henkilötunnus), e.g. 131052-308T. A client reference that looks
# like one is refused: references must be pseudonymous before they reach this service.
PERSONAL_IDENTITY_CODE = re.compile(r"^\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]$", re.IGNORECASE)
CLIENT_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,63}$"
BOOKING_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MUNICIPALITY_PATTERN = r"^\d{3}$"


def looks_like_personal_identity_code(value: str) -> bool:
    return bool(PERSONAL_IDENTITY_CODE.match(value.strip()))


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class FirstLanguage(StrEnum):
    FINNISH = "fi"
    SWEDISH = "sv"
    OTHER = "other"


class Region(StrEnum):
    """The 21 wellbeing services counties (hyvinvointialue) and the City of Helsinki."""

    HELSINKI = "helsinki"
    ITA_UUSIMAA = "ita-uusimaa"
    KESKI_UUSIMAA = "keski-uusimaa"
    LANSI_UUSIMAA = "lansi-uusimaa"
    VANTAA_KERAVA = "vantaa-kerava"
    VARSINAIS_SUOMI = "varsinais-suomi"
    SATAKUNTA = "satakunta"
    KANTA_HAME = "kanta-hame"
    PIRKANMAA = "pirkanmaa"
    PAIJAT_HAME = "paijat-hame"
    KYMENLAAKSO = "kymenlaakso"
    ETELA_KARJALA = "etela-karjala"
    ETELA_SAVO = "etela-savo"
    POHJOIS_SAVO = "pohjois-savo"
    POHJOIS_KARJALA = "pohjois-karjala"
    KESKI_SUOMI = "keski-suomi"
    ETELA_POHJANMAA = "etela-pohjanmaa"
    POHJANMAA = "pohjanmaa"
    KESKI_POHJANMAA = "keski-pohjanmaa"
    POHJOIS_POHJANMAA = "pohjois-pohjanmaa"
    KAINUU = "kainuu"
    LAPPI = "lappi"


class EmploymentStatus(StrEnum):
    EMPLOYED = "employed"
    ENTREPRENEUR = "entrepreneur"
    UNEMPLOYED = "unemployed"
    LAID_OFF = "laid_off"  # lomautettu: temporarily laid off, employment relationship continues
    STUDENT = "student"
    OUTSIDE_LABOUR_FORCE = "outside_labour_force"
    UNKNOWN = "unknown"


class ContactReason(StrEnum):
    """ICPC-2 chapter of the reason for the current contact."""

    GENERAL = "A"  # general and unspecified
    BLOOD = "B"
    DIGESTIVE = "D"
    EYE = "F"
    EAR = "H"
    CIRCULATORY = "K"
    MUSCULOSKELETAL = "L"
    NEUROLOGICAL = "N"
    PSYCHOLOGICAL = "P"
    RESPIRATORY = "R"
    SKIN = "S"
    ENDOCRINE = "T"
    URINARY = "U"
    PREGNANCY = "W"
    FEMALE_GENITAL = "X"
    MALE_GENITAL = "Y"
    SOCIAL = "Z"


class ReferralSource(StrEnum):
    SELF = "self"
    EMPLOYMENT_SERVICES = "employment_services"  # TE services / municipal employment services
    KELA = "kela"
    PRIMARY_CARE = "primary_care"
    SPECIALISED_CARE = "specialised_care"
    OCCUPATIONAL_HEALTH = "occupational_health"
    SOCIAL_SERVICES = "social_services"
    NGO = "ngo"
    # Added in contract 1.2.0 (seed 002 names them as referrers to the work-ability services):
    PENSION_INSURER = "pension_insurer"  # työeläkevakuuttaja
    CRIMINAL_SANCTIONS = "criminal_sanctions"  # Rikosseuraamuslaitos
    YOUTH_SERVICES = "youth_services"  # nuorten palvelut, Ohjaamo
    EDUCATION = "education"  # oppilaitos, koulutuspalvelut
    OTHER = "other"


class ClientGroup(StrEnum):
    NEW_CLIENT = "new_client"  # seeking services for the first time
    OUTSIDE_SERVICES = "outside_services"  # found outside services (outreach)
    IN_SERVICES = "in_services"  # already a client of the centre


class SupportLevel(StrEnum):
    """The three levels of DOMAIN.md, lightest first."""

    SELF_CARE = "self_care"  # Omahoito
    CONSULTATION = "consultation"  # Konsultaatio
    TEAM = "team"  # Työkyvyn tuen tiimi


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

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    client_ref: Annotated[
        str,
        Field(
            pattern=CLIENT_REF_PATTERN,
            description="Pseudonymous client reference made by the booking system (8-64 letters, "
            "digits or _ . : -). Never a personal identity code; stored only as a keyed hash.",
            json_schema_extra=_meta("identifier"),
        ),
    ]
    booking_id: Annotated[
        str,
        Field(
            pattern=BOOKING_ID_PATTERN,
            description="The booking system's id of this booking; unique within a file or batch.",
            json_schema_extra=_meta("identifier"),
        ),
    ]
    booking_time: Annotated[
        datetime,
        Field(
            description="When the booking was made, ISO 8601; a time without zone is taken as UTC.",
            json_schema_extra=_meta("context", unit="timestamp"),
        ),
    ]
    age: Annotated[
        int,
        Field(
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
        Field(
            description="Sex as registered. Protected: used only to monitor fairness.",
            json_schema_extra=_meta("protected", fairness_group=True),
        ),
    ]
    first_language: Annotated[
        FirstLanguage,
        Field(
            description="First language as registered (fi, sv or other). Protected: used only to "
            "monitor fairness and to choose the language of explanations.",
            json_schema_extra=_meta("protected", fairness_group=True),
        ),
    ]
    region: Annotated[
        Region,
        Field(
            description="Wellbeing services county (hyvinvointialue) of the sote centre. Not a model "
            "input, so that need is judged from the situation, not from where one lives.",
            json_schema_extra=_meta("context", fairness_group=True),
        ),
    ]
    municipality: Annotated[
        str,
        Field(
            pattern=MUNICIPALITY_PATTERN,
            description="Statistics Finland three-digit municipality code of residence, e.g. 837.",
            json_schema_extra=_meta("context"),
        ),
    ]
    employment_status: Annotated[
        EmploymentStatus,
        Field(
            description="Main activity at booking.",
            json_schema_extra=_meta("feature"),
        ),
    ]
    months_unemployed: Annotated[
        int | None,
        Field(
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
            default=None,
            ge=0,
            le=365,
            description="Primary health-care visits in the last 12 months.",
            json_schema_extra=_meta("feature", unit="visits", missing="not recorded"),
        ),
    ]
    contact_reason: Annotated[
        ContactReason | None,
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
        Field(
            description="Who referred the client, or self.",
            json_schema_extra=_meta("feature"),
        ),
    ]
    client_group: Annotated[
        ClientGroup,
        Field(
            description="New client, found outside services, or already in services.",
            json_schema_extra=_meta("feature"),
        ),
    ]
    mental_health_concern: Annotated[
        bool | None,
        Field(
            default=None,
            description="A mental-health concern is known or raised at booking.",
            json_schema_extra=_meta("feature", missing="not asked"),
        ),
    ]
    substance_use_concern: Annotated[
        bool | None,
        Field(
            default=None,
            description="A substance-use concern is known or raised at booking.",
            json_schema_extra=_meta("feature", missing="not asked"),
        ),
    ]
    financial_difficulties: Annotated[
        bool | None,
        Field(
            default=None,
            description="Financial difficulties or debt are known or raised at booking.",
            json_schema_extra=_meta("feature", missing="not asked"),
        ),
    ]
    consent_multi_agency: Annotated[
        bool,
        Field(
            default=False,
            description="The client consents to multi-agency sharing of their data (the starting "
            "point of multi-agency work). Not a model input.",
            json_schema_extra=_meta("context"),
        ),
    ]

    @field_validator("client_ref")
    @classmethod
    def _not_a_personal_identity_code(cls, value: str) -> str:
        if looks_like_personal_identity_code(value):
            raise ValueError(
                "looks like a personal identity code; send a pseudonymous reference instead"
            )
        return value


class LabelledBookingRecord(BookingRecord):
    """A booking record with its outcome, as used for training and monitoring."""

    needs_support: Annotated[
        bool | None,
        Field(
            default=None,
            description="Outcome: a work-ability coordinator confirmed that the client needed "
            "work-ability support.",
            json_schema_extra=_meta("label", missing="outcome not yet known"),
        ),
    ]
    support_level: Annotated[
        SupportLevel | None,
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
