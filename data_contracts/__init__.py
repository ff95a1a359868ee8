"""The booking-record contract: one definition, from which every schema and column list derives."""

from data_contracts.booking import CONTRACT_VERSION, BookingRecord, LabelledBookingRecord
from data_contracts.contract import (
    BOOKING_COLUMNS,
    CONTRACT_FIELDS,
    FAIRNESS_GROUPS,
    MODEL_FEATURES,
    PROTECTED_ATTRIBUTES,
    booking_frame_schema,
)
from data_contracts.identity import contains_personal_identity_code
from data_contracts.validation import (
    ContractError,
    ContractViolation,
    hidden_because,
    load_bookings,
)
from data_contracts.values import (
    BOOKING_TIME_EARLIEST,
    BOOKING_TIME_LEEWAY,
    PERSONAL_IDENTITY_CODE_ERROR,
    PERSONAL_IDENTITY_CODE_PROBLEM,
    BookingTimeError,
    booking_time_latest,
    code_free_reference,
    read_booking_time,
)

__all__ = [
    "BOOKING_COLUMNS",
    "BOOKING_TIME_EARLIEST",
    "BOOKING_TIME_LEEWAY",
    "CONTRACT_FIELDS",
    "CONTRACT_VERSION",
    "FAIRNESS_GROUPS",
    "MODEL_FEATURES",
    "PERSONAL_IDENTITY_CODE_ERROR",
    "PERSONAL_IDENTITY_CODE_PROBLEM",
    "PROTECTED_ATTRIBUTES",
    "BookingRecord",
    "BookingTimeError",
    "ContractError",
    "ContractViolation",
    "LabelledBookingRecord",
    "booking_frame_schema",
    "booking_time_latest",
    "code_free_reference",
    "contains_personal_identity_code",
    "hidden_because",
    "load_bookings",
    "read_booking_time",
]
