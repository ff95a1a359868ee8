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
from data_contracts.validation import ContractError, ContractViolation, load_bookings

__all__ = [
    "BOOKING_COLUMNS",
    "CONTRACT_FIELDS",
    "CONTRACT_VERSION",
    "FAIRNESS_GROUPS",
    "MODEL_FEATURES",
    "PROTECTED_ATTRIBUTES",
    "BookingRecord",
    "ContractError",
    "ContractViolation",
    "LabelledBookingRecord",
    "booking_frame_schema",
    "load_bookings",
]
