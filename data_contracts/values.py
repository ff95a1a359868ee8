"""How one value of the contract is read: the rules both validation paths share.

A booking record arrives as JSON (the API, ``mlflow models serve``), as a typed frame (Parquet, a
DataFrame handed to the registered model) or as CSV text. The contract's types are JSON's types,
and every path holds them alike:

- an integer is a JSON integer: ``20``, not ``"20"``, ``20.0``, ``1e1`` or ``true``;
- a boolean is ``true`` or ``false``, not ``1``, ``"true"``, ``"yes"`` or ``"off"``;
- text (identifiers, codes, categories) is a JSON string, never a number, used exactly as sent:
  leading or trailing spaces are refused, never trimmed (an identifier is not guessed at);
- a booking time is an ISO 8601 string (``2025-03-04T09:15:00Z``, see ``ISO_8601``) inside the
  plausible window (``BOOKING_TIME_EARLIEST`` to ``BOOKING_TIME_LEEWAY`` after now), never a number.

Two representations are read as what they stand for, because JSON cannot be kept otherwise:

- a frame keeps JSON integers with gaps as floats (``[7, null]`` is ``[7.0, NaN]``), so in a column
  of float dtype a whole, finite number is that integer (anywhere else a float is refused);
- a CSV cell is text, so a CSV file is read by the same grammar as JSON's literals: an integer is
  ``-?(0|[1-9][0-9]*)``, a boolean ``true`` or ``false`` in any letter case (pandas writes
  ``True``), a number a JSON number; an empty cell is missing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from data_contracts.identity import contains_personal_identity_code

#: JSON's integer and number literals (CSV cells are read by these).
JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
#: A CSV cell longer than this many digits is an integer, but out of every range (and never
#: handed to int(), which refuses more than 4300 digits).
LONGEST_INTEGER_TEXT = 20

#: The ISO 8601 forms a booking time may take (RFC 3339 with the time optional): a date
#: (``2025-03-04``, its midnight) or a date and time to the minute or second, with up to nine
#: decimals of a second (read to the microsecond), and ``Z`` or an offset ``+02:00``; without a zone
#: the time is taken as UTC. ASCII digits only; no week or ordinal dates, no basic format
#: (``20250304T091500Z``), no space for ``T``, no Unix timestamps.
ISO_8601 = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?"
)

#: A booking time is when the booking was made: not before 2000 (no booking system of the
#: work-ability services is older, and year 1 is a placeholder, not a time) and not more than two
#: days after the moment of validation (clocks and time zones of booking systems differ; a time
#: further ahead is an appointment time or a placeholder such as 9999-12-31). The window also keeps
#: every accepted time far from the ends of Python's and pandas' calendars, so that converting it
#: (to UTC, to nanoseconds) never overflows.
BOOKING_TIME_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
BOOKING_TIME_LEEWAY = timedelta(days=2)
BOOKING_TIME_WINDOW = (
    f"from {BOOKING_TIME_EARLIEST:%Y-%m-%d} to {BOOKING_TIME_LEEWAY.days} days after the time of "
    "validation"
)

NOT_A_TIME = "not an ISO 8601 date and time"
OUTSIDE_THE_WINDOW = f"outside the plausible booking times ({BOOKING_TIME_WINDOW})"
PERSONAL_IDENTITY_CODE_PROBLEM = (
    "contains a personal identity code; send a pseudonymous reference instead"
)
#: The type of the pydantic error refusing it (``error["type"]``): whoever reports the error must
#: not echo its ``input``.
PERSONAL_IDENTITY_CODE_ERROR = "personal_identity_code"


class BookingTimeError(ValueError):
    """A value that is not a plausible booking time; its message is the problem."""


def booking_time_latest(now: datetime | None = None) -> datetime:
    """The latest plausible booking time at ``now`` (default: this moment)."""
    return (now or datetime.now(UTC)) + BOOKING_TIME_LEEWAY


def read_booking_time(value: object, latest: datetime | None = None) -> datetime:
    """``value`` (an ISO 8601 string, or a datetime of a typed column) as an aware UTC datetime,
    or BookingTimeError. The window is checked before any conversion, so that none overflows
    (``9999-12-31T23:59:59-14:00`` is refused, never turned into year 10000)."""
    if isinstance(value, str):
        if ISO_8601.fullmatch(value) is None:
            raise BookingTimeError(NOT_A_TIME)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:  # 30 February
            raise BookingTimeError(NOT_A_TIME) from None
    elif isinstance(value, datetime):
        moment = value
        if type(moment) is not datetime:  # a pandas Timestamp: as a plain datetime
            moment = datetime(
                *moment.timetuple()[:6], moment.microsecond, moment.tzinfo, fold=moment.fold
            )
    else:  # numbers (Unix timestamps), booleans, dates without a time of day's type
        raise BookingTimeError(NOT_A_TIME)
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    if not BOOKING_TIME_EARLIEST <= moment <= (latest or booking_time_latest()):
        raise BookingTimeError(OUTSIDE_THE_WINDOW)
    return moment.astimezone(UTC)


# -- the pydantic validators of data_contracts.booking ---------------------------------------------


def _no_personal_identity_code(value: str) -> str:
    # The message names the problem, never the value (it ends in logs and reports).
    if contains_personal_identity_code(value):
        raise PydanticCustomError(PERSONAL_IDENTITY_CODE_ERROR, PERSONAL_IDENTITY_CODE_PROBLEM)
    return value


def _text_only(value: Any) -> Any:
    # pydantic would read bytes as the text they encode; a category is a JSON string.
    if value is not None and not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    return value


def _booking_time(value: Any) -> datetime:
    try:
        return read_booking_time(value)
    except BookingTimeError as error:
        raise PydanticCustomError("booking_time", str(error)) from None


#: Identifiers: text with no personal identity code in it.
PSEUDONYMOUS = AfterValidator(_no_personal_identity_code)
#: Categories: a JSON string naming one (not bytes, not a number).
TEXT = BeforeValidator(_text_only)
#: The booking time, by ``read_booking_time``.
BOOKING_TIME = BeforeValidator(_booking_time)


# -- references that pass ----------------------------------------------------------------------------

#: Groups of at most this many characters can never hold a personal identity code (its date
#: alone is six digits in a row).
REFERENCE_GROUP = 5


def code_free_reference(prefix: str, digits: str) -> str:
    """``prefix`` and ``digits`` (a hash or a running number in hex, say) as a reference in
    groups of five joined by "-": ``syn-4c240-25571-5b73b``. No personal identity code can be
    read in it, whatever the digits (``prefix`` must not end in a digit). For generated data, and
    for stand-ins of a pseudonymised reference that must pass the contract."""
    groups = [digits[i : i + REFERENCE_GROUP] for i in range(0, len(digits), REFERENCE_GROUP)]
    return "-".join([prefix, *groups])
