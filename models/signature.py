"""The registered model's signature and input example, derived from the contract.

The inputs are the contract's model features only: identifiers, context and protected attributes
(age, sex, first language) are not inputs, so the registered model never receives them (MLflow
drops columns a signature does not name; a full booking record can still be sent).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType

from data_contracts.contract import FIELDS_BY_NAME, MODEL_FEATURES
from data_contracts.records import as_json_records
from models.packaged import OUTPUT_COLUMNS

# The signature names every model-feature column and which may be left out. Types are "any"
# except for plain text: JSON integers with nulls arrive as float64, typed frames bring pandas
# categoricals and nullable dtypes, and MLflow's enforcement refuses both (int64 -> double is
# "unsafe"). The model validates and coerces every value itself against the contract
# (data_contracts.validation), with errors that name the field and the value.
_ANY = AnyType()  # type: ignore[no-untyped-call]
_SIGNATURE_TYPE: dict[str, Any] = {
    "string": "string",
    "datetime": _ANY,
    "category": _ANY,
    "integer": _ANY,
    "number": _ANY,
    "boolean": _ANY,
}
_OUTPUT_TYPE = {"alert_probability": "double", "alert": "boolean"}


def model_signature() -> ModelSignature:
    inputs = Schema(
        [
            ColSpec(
                _SIGNATURE_TYPE[FIELDS_BY_NAME[name].kind],
                name,
                # Every column present (values may be null): MLflow drops a column the signature
                # does not name before the model sees it, so a misspelt optional column would
                # otherwise pass as "not asked"; required, the real name is missed by name.
                required=True,
            )
            for name in MODEL_FEATURES
        ]
    )
    outputs = Schema([ColSpec(_OUTPUT_TYPE.get(name, "string"), name) for name in OUTPUT_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(records: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(as_json_records(records), columns=list(MODEL_FEATURES))
