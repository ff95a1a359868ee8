"""Feature pipeline shared by training, serving, batch scoring and monitoring."""

from features.transformers import (
    MONOTONE_DIRECTIONS,
    WORK_ABILITY_BANDS,
    BookingFeatures,
    OrdinalBander,
    ThresholdIndicator,
)

__all__ = [
    "MONOTONE_DIRECTIONS",
    "WORK_ABILITY_BANDS",
    "BookingFeatures",
    "OrdinalBander",
    "ThresholdIndicator",
]
