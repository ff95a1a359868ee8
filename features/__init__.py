"""Feature pipeline shared by training, serving, batch scoring and monitoring.

``features.spec`` states every model feature once; ``features.transformers`` computes them.
"""

from features.spec import FEATURES, FeatureSpec, spec
from features.transformers import (
    FEATURE_NAMES,
    BookingFeatures,
    OrdinalBander,
    ThresholdIndicator,
    encode_frame,
    encode_records,
    feature_matrix,
)

__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "BookingFeatures",
    "FeatureSpec",
    "OrdinalBander",
    "ThresholdIndicator",
    "encode_frame",
    "encode_records",
    "feature_matrix",
    "spec",
]
