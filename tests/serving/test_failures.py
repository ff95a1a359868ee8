"""Failure paths in process: the audit store down, PostgreSQL as the store, a moving champion."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from data_contracts.records import as_json_records
from serving.app import create_app
from serving.security import Role, create_key
from serving.settings import ServiceSettings
from synthetic.cohort import generate_cohort
from tests.serving.conftest import SMALL, service_env
from training.config import TrainConfig

pytestmark = [pytest.mark.code]

RECORD = as_json_records(generate_cohort("etela-pohjanmaa", 5, seed=8))[0]


def client_for(project: Path, **extra: str) -> tuple[TestClient, dict[str, str]]:
    keys_file = project / f"keys-{uuid.uuid4().hex}.json"
    keys = {role.value: create_key(keys_file, role.value, role) for role in Role}
    env = service_env(project, KYKYTUTKA_API_KEYS_FILE=str(keys_file), **extra)
    os.environ.update(env)
    settings = ServiceSettings()
    return TestClient(create_app(settings)), keys


@pytest.fixture
def restore_env() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def bearer(keys: dict[str, str], role: str = "booking-system") -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[role]}"}


@pytest.mark.slow  # trains a champion
def test_no_decision_goes_out_when_the_audit_store_cannot_be_written(
    champion_project: Path, restore_env: None, tmp_path: Path
) -> None:
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    client, keys = client_for(champion_project, KYKYTUTKA_AUDIT_URL=audit)
    with client:
        assert client.post("/v1/assessments", json=RECORD, headers=bearer(keys)).status_code == 200
        with sa.create_engine(audit).begin() as connection:
            connection.execute(sa.text("DROP TABLE decisions"))
        response = client.post("/v1/assessments", json=RECORD, headers=bearer(keys))
        assert response.status_code == 503
        assert "audit store" in response.json()["detail"]
        # Readiness asks whether the store answers, and it does: only its table is gone. The
        # service stays in rotation and refuses each decision it cannot audit (the 503 above).
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["audit_store"] == "ok"


def test_the_service_refuses_a_placeholder_pseudonym_key(restore_env: None) -> None:
    os.environ["KYKYTUTKA_PSEUDONYM_KEY"] = "changeme" * 4
    with pytest.raises(ValueError, match="placeholder"):
        ServiceSettings()


@pytest.mark.slow  # trains a champion
def test_the_service_audits_into_postgresql(
    champion_project: Path, restore_env: None, postgres_url: str
) -> None:
    client, keys = client_for(champion_project, KYKYTUTKA_AUDIT_URL=postgres_url)
    with client:
        response = client.post("/v1/assessments", json=RECORD, headers=bearer(keys))
        assert response.status_code == 200, response.text
        decision = response.json()["decision_id"]
        stored = client.get(f"/v1/assessments/{decision}", headers=bearer(keys, "auditor"))
        assert stored.status_code == 200
        assert stored.json()["booking_id"] == RECORD["booking_id"]


@pytest.mark.slow  # trains a champion
def test_a_local_copy_serves_when_the_registry_is_down(
    champion_project: Path, restore_env: None, tmp_path: Path
) -> None:
    cache = str(tmp_path / "cache")
    client, keys = client_for(champion_project, KYKYTUTKA_MODEL_CACHE_DIR=cache)
    with client:
        assert client.get("/readyz").json()["model_source"] == "registry"
    client, keys = client_for(
        champion_project,
        KYKYTUTKA_MODEL_CACHE_DIR=cache,
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'missing' / 'no.db'}",
    )
    with client:
        ready = client.get("/readyz").json()
        assert ready["model_source"] == "local copy" and ready["model_version"] == "1"
        assert client.post("/v1/assessments", json=RECORD, headers=bearer(keys)).status_code == 200


@pytest.mark.slow  # trains a champion
def test_a_new_champion_is_picked_up_without_failing_requests(
    champion_project: Path, restore_env: None, tmp_path: Path
) -> None:
    import time

    from models.registry import use_tracking
    from training.registry import promote
    from training.train import train

    client, keys = client_for(
        champion_project,
        KYKYTUTKA_MODEL_POLL_SECONDS="0.5",
        KYKYTUTKA_MODEL_CACHE_DIR=str(tmp_path / "cache"),
    )
    with client:
        assert client.get("/readyz").json()["model_version"] == "1"
        previous = Path.cwd()
        os.chdir(champion_project)
        try:
            better = TrainConfig.model_validate({**SMALL, "name": "better"})
            better = better.model_copy(
                update={"data": better.data.model_copy(update={"rows_per_region": 20_000})}
            )
            result = train(better, project_dir=champion_project)
            mlflow_client = use_tracking(champion_project)
            mlflow_client.set_registered_model_alias("kykytutka", "champion", result.model_version)
        finally:
            os.chdir(previous)
        deadline = time.monotonic() + 60
        statuses = []
        while time.monotonic() < deadline:
            response = client.post("/v1/assessments", json=RECORD, headers=bearer(keys))
            statuses.append(response.status_code)
            if response.json()["model"]["version"] == result.model_version:
                break
            time.sleep(0.2)
        assert statuses and set(statuses) == {200}
        assert client.get("/readyz").json()["model_version"] == result.model_version
        assert promote is not None
