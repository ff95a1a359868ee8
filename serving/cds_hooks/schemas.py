"""The shapes the CDS Hooks 2.0 specification gives a service call and its feedback, and the parts
of the FHIR R4 resources the appointment-book hook carries that this service reads.

Sources: CDS Hooks 2.0 (cds-hooks.hl7.org/2.0, tag v2.0.1): "Calling a CDS Service", "FHIR
Resource Access", "Feedback", Coding; the appointment-book context (CDSHookAppointmentBookContext:
userId "[ResourceType]/[id]", patientId and encounterId ids, appointments a Bundle); FHIR R4
Appointment, QuestionnaireResponse and the ``id`` and ``dateTime`` regular expressions.

Unknown members are refused at the top of a service call and everywhere in feedback (a misspelt
``overrideReasons`` would otherwise be a 200 with its reason lost); ``extension``, the name the
specification reserves ("Extensions"), is taken wherever an object of the specification is.
Inside the hook's context and the FHIR resources unknown members are ignored (newer versions).

The identifiers and codes the service keeps (FHIR ids of the patient, appointments, encounter and
QuestionnaireResponse, the ``fhirServer`` base of their references, an override reason's code and
system) refuse a personal identity code anywhere in them, without echoing it; a feedback request
holds at most ``MAX_FEEDBACK`` entries.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from data_contracts.identity import contains_personal_identity_code
from data_contracts.values import BookingTimeError, read_booking_time
from serving.errors import Problem, pydantic_problems

M = TypeVar("M", bound=BaseModel)

#: feedback entries one request may hold (a card takes one of them)
MAX_FEEDBACK = 50
#: the type of the error refusing a personal identity code (as data_contracts names it)
PERSONAL_IDENTITY_CODE = "personal_identity_code"
#: the longest code or system of a Coding, and URL of a FHIR server, taken (a personal identity
#: code is looked for in each: about 3 s a megabyte of digits, so never in an unbounded text)
MAX_CODE_CHARS = 256
MAX_URL_CHARS = 2_048
_LOOKED_AT = 200


def _no_identity_code(value: str) -> str:
    if contains_personal_identity_code(value):
        raise PydanticCustomError(
            PERSONAL_IDENTITY_CODE,
            "holds a personal identity code; identifiers and codes must be pseudonymous",
        )
    return value


#: an identifier or code the service keeps: never one holding a personal identity code
Pseudonymous = AfterValidator(_no_identity_code)
#: FHIR R4 ``id``: 1-64 letters, digits, "-" and "."
FHIR_ID_PATTERN = r"^[A-Za-z0-9\-\.]{1,64}$"
FhirId = Annotated[str, StringConstraints(pattern=FHIR_ID_PATTERN), Pseudonymous]
#: FHIR R4 ``dateTime`` (a year, year-month, date, or date-time with a zone)
FhirDateTime = Annotated[
    str,
    StringConstraints(
        pattern=r"^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|"
        r"[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)"
        r"((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$"
    ),
]
FhirDate = Annotated[str, StringConstraints(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")]
#: appointment-book ``userId``: a Practitioner, PractitionerRole, Patient or RelatedPerson
UserReference = Annotated[
    str,
    StringConstraints(
        pattern=r"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\-\.]{1,64}$"
    ),
    Pseudonymous,
]
NonEmpty = Annotated[StrictStr, StringConstraints(min_length=1)]
BundleType = Literal[
    "document",
    "message",
    "transaction",
    "transaction-response",
    "batch",
    "batch-response",
    "history",
    "searchset",
    "collection",
]


class _Read(BaseModel):
    """A part of a FHIR resource or CDS Hooks object this service reads; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Exact(BaseModel):
    """A CDS Hooks object (the call's top level, feedback): every member is the
    specification's (``extension`` aside)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    extension: dict[str, Any] | None = None


# -- FHIR R4 parts ---------------------------------------------------------------------------------


class Identifier(_Read):
    system: StrictStr | None = None
    value: StrictStr | None = None


class Reference(_Read):
    reference: StrictStr | None = None
    type: StrictStr | None = None
    identifier: Identifier | None = None
    display: StrictStr | None = None


class FhirCoding(_Read):
    system: StrictStr | None = None
    version: StrictStr | None = None
    #: optional in FHIR; a booking-context answer without a code says nothing, so it is required
    code: NonEmpty
    display: StrictStr | None = None


class Participant(_Read):
    actor: Reference | None = None


AppointmentStatus = Literal[
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
]


class Appointment(_Read):
    resourceType: Literal["Appointment"]  # noqa: N815
    #: optional in FHIR; the hook's proposed appointment is the booking, so it needs one
    id: FhirId
    status: AppointmentStatus
    created: FhirDateTime | None = None
    participant: list[Participant] | None = None


class AppointmentEntry(_Read):
    resource: Appointment


class AppointmentBundle(_Read):
    resourceType: Literal["Bundle"]  # noqa: N815
    type: BundleType
    entry: list[AppointmentEntry] = Field(min_length=1)


_VALUES = (
    "valueBoolean",
    "valueDecimal",
    "valueInteger",
    "valueDate",
    "valueDateTime",
    "valueTime",
    "valueString",
    "valueUri",
    "valueAttachment",
    "valueCoding",
    "valueQuantity",
    "valueReference",
)


class Answer(_Read):
    """QuestionnaireResponse.item.answer: exactly one value[x] (FHIR R4 ``qrs-?``: value 1..1)."""

    valueBoolean: StrictBool | None = None  # noqa: N815
    valueDecimal: StrictInt | StrictFloat | None = None  # noqa: N815
    valueInteger: StrictInt | None = None  # noqa: N815
    valueDate: FhirDate | None = None  # noqa: N815
    valueDateTime: FhirDateTime | None = None  # noqa: N815
    valueTime: StrictStr | None = None  # noqa: N815
    valueString: StrictStr | None = None  # noqa: N815
    valueUri: StrictStr | None = None  # noqa: N815
    valueAttachment: dict[str, Any] | None = None  # noqa: N815
    valueCoding: FhirCoding | None = None  # noqa: N815
    valueQuantity: dict[str, Any] | None = None  # noqa: N815
    valueReference: dict[str, Any] | None = None  # noqa: N815
    item: list[Item] | None = None

    @model_validator(mode="after")
    def _one_value(self) -> Answer:
        given = [name for name in _VALUES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"an answer has exactly one value[x]; found {len(given)}")
        return self

    def value(self) -> Any:
        """The answer as a booking-record value: a coding's code, anything else as it is."""
        if self.valueCoding is not None:
            return self.valueCoding.code
        return next(getattr(self, name) for name in _VALUES if getattr(self, name) is not None)


class Item(_Read):
    linkId: NonEmpty  # noqa: N815
    answer: list[Answer] | None = None
    item: list[Item] | None = None


QuestionnaireResponseStatus = Literal[
    "in-progress", "completed", "amended", "entered-in-error", "stopped"
]


class QuestionnaireResponse(_Read):
    resourceType: Literal["QuestionnaireResponse"]  # noqa: N815
    id: FhirId | None = None
    questionnaire: StrictStr | None = None
    status: QuestionnaireResponseStatus
    subject: Reference | None = None
    authored: FhirDateTime | None = None
    item: list[Item] | None = None


Answer.model_rebuild()


class SearchEntry(_Read):
    resource: dict[str, Any] | None = None


class SearchBundle(_Read):
    resourceType: Literal["Bundle"]  # noqa: N815
    type: BundleType
    entry: list[SearchEntry] | None = None


# -- CDS Hooks: the service call ---------------------------------------------------------------------


class FhirAuthorization(_Read):
    """Never stored, logged or echoed (CDS Hooks best practices: the token is transient)."""

    access_token: SecretStr = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: StrictInt = Field(ge=0)
    scope: NonEmpty
    subject: NonEmpty
    patient: FhirId | None = None


class AppointmentBookContext(_Read):
    userId: UserReference  # noqa: N815
    patientId: FhirId  # noqa: N815
    encounterId: FhirId | None = None  # noqa: N815
    appointments: AppointmentBundle


class HookRequest(_Exact):
    """The call's top level: the specification's members (and ``extension``), no other."""

    hook: Literal["appointment-book"]
    hookInstance: UUID  # noqa: N815
    fhirServer: AnyHttpUrl | None = None  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815
    context: AppointmentBookContext
    #: each value a FHIR resource, or null when the client has no data for the key
    prefetch: dict[str, Any] | None = None

    @field_validator("fhirServer")
    @classmethod
    def _pseudonymous_server(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        # the base of every FHIR reference the audit row keeps
        if value is not None:
            if len(str(value)) > MAX_URL_CHARS:
                raise ValueError(f"longer than {MAX_URL_CHARS} characters")
            _no_identity_code(str(value))
        return value


# -- CDS Hooks: feedback -----------------------------------------------------------------------------


class Coding(_Exact):
    """The CDS Hooks Coding: code and system required, display optional."""

    code: Annotated[NonEmpty, StringConstraints(max_length=MAX_CODE_CHARS), Pseudonymous]
    system: Annotated[NonEmpty, StringConstraints(max_length=MAX_CODE_CHARS), Pseudonymous]
    display: StrictStr | None = None


class OverrideReason(_Exact):
    """One object: the reason the user picked from the card's list, a free-text comment, or both
    (``cds-fb-3``). The comment is accepted and never stored or logged."""

    reason: Coding | None = None
    userComment: StrictStr | None = None  # noqa: N815

    @model_validator(mode="after")
    def _reason_or_comment(self) -> OverrideReason:
        if self.reason is None and self.userComment is None:
            raise ValueError("an overrideReason has a reason, a userComment or both")
        return self


class AcceptedSuggestion(_Exact):
    id: UUID


class Feedback(_Exact):
    card: UUID
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None  # noqa: N815
    overrideReason: OverrideReason | None = None  # noqa: N815
    #: when the user acted: RFC 3339 text with its zone (not a number of seconds, which pydantic
    #: would take), in the window of booking times (so none overflows when put in UTC)
    outcomeTimestamp: AwareDatetime  # noqa: N815

    @field_validator("outcomeTimestamp", mode="before")
    @classmethod
    def _an_instant(cls, value: Any) -> Any:
        if not isinstance(value, str) or re.search(r"(Z|z|[+-][0-9]{2}:[0-9]{2})$", value) is None:
            raise ValueError("must be an RFC 3339 time with its zone, as text")
        try:
            return read_booking_time(value)
        except BookingTimeError as exc:
            raise ValueError(str(exc)) from None


class FeedbackRequest(_Exact):
    feedback: list[Feedback] = Field(min_length=1, max_length=MAX_FEEDBACK)


# -- validation with the fields named as the request names them ----------------------------------


class Malformed(ValueError):
    """A CDS Hooks request or feedback that does not have the specification's shape."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {problem}" for field, _, problem in problems))


def validated(
    model: type[M], data: Any, at: tuple[str | int, ...] = (), hide: frozenset[str] = frozenset()
) -> M:
    """``data`` as ``model``, or Malformed naming each field by its place in the request (``at``
    is where ``data`` sits). A value under a member named in ``hide`` is never echoed (an access
    token, a free-text comment), nor a whole object (it may hold one)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            location = (*at, *error["loc"])
            value = error.get("input")
            if error["type"] == "missing" or isinstance(value, dict | list):
                value = None  # the input of a missing member is its parent: not worth echoing
            if hide & {str(part) for part in location} or _holds_identity_code(value):
                value = None
            errors.append({"loc": location, "input": value, "msg": error["msg"]})
        raise Malformed(pydantic_problems(errors, ".".join(map(str, at)) or "body")) from None


def _holds_identity_code(value: Any) -> bool:
    # Also where another rule refused the value (a FHIR id with a ":" in it, say). Only what an
    # error echoes is looked at: the search takes about 3 s a megabyte of digits.
    return isinstance(value, str) and contains_personal_identity_code(value[:_LOOKED_AT])


def refused(field: str, value: Any, problem: str) -> Malformed:
    """Malformed naming ``field``; ``value`` is echoed unless it holds a personal identity code."""
    return Malformed([(field, None if _holds_identity_code(value) else value, problem)])
