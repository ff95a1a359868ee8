"""One scoring path: the API and the registered model (as ``mlflow.pyfunc`` loads it) give the same
probability and the same segment for the same bookings, from both regions."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from data_contracts.records import as_json_records
from models.registry import MODEL_NAME, use_tracking
from synthetic.cohort import generate_cohort
from tests.projects import inside_project
from tests.serving.conftest import Service

pytestmark = [pytest.mark.code, pytest.mark.slow]


@pytest.mark.parametrize("region", ["pirkanmaa", "etela-pohjanmaa"])
def test_the_api_and_the_registered_model_agree(service: Service, region: str) -> None:
    records = as_json_records(generate_cohort(region, 40, seed=23))
    records[0]["work_ability_score"] = None  # not asked
    records[1]["contact_reason"] = None
    status, body = service.call("POST", "/v1/assessments:batch", {"records": records})
    assert status == 200, body
    api = pd.DataFrame(
        {
            "alert_probability": [a["alert_probability"] for a in body["assessments"]],
            "segment_id": [a["segment"]["id"] for a in body["assessments"]],
            "alert": [a["alert"] for a in body["assessments"]],
        }
    )
    version = body["assessments"][0]["model"]["version"]  # the one the service answered with
    with inside_project(service.project):
        use_tracking(service.project)  # tracking and registry: another test may have moved either
        model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{version}")
        predicted = model.predict(pd.DataFrame(records))
    assert (api["alert_probability"] - predicted["alert_probability"]).abs().max() <= 1e-6
    assert list(api["segment_id"]) == list(predicted["segment_id"])
    assert list(api["alert"]) == list(predicted["alert"])
