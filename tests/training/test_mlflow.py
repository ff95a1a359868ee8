"""End to end through MLflow on SQLite: train, register, promote, refuse, compare, serve."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from data_contracts.booking import CONTRACT_VERSION
from data_contracts.records import as_json_records
from kykytutka.cli import app
from models.packaged import OUTPUT_COLUMNS
from models.registry import (
    CHALLENGER,
    CHAMPION,
    MODEL_NAME,
    IncompatibleModel,
    load_model,
    use_tracking,
)
from synthetic.cohort import generate_cohort
from tests.projects import inside_project
from training.config import TrainConfig
from training.registry import promote
from training.train import TrainResult, train

pytestmark = [pytest.mark.code, pytest.mark.slow]

SMALL = {
    "data": {"rows_per_region": 8_000, "seed": 7},
    "segmentation": {"candidate_counts": [3, 4], "sample_rows": 3_000, "bootstrap_refits": 2},
}


def small_config(name: str, **changes: object) -> TrainConfig:
    raw: dict[str, object] = {"name": name, **SMALL}
    raw.update(changes)
    return TrainConfig.model_validate(raw)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with inside_project(tmp_path_factory.mktemp("project")) as folder:
        yield folder


@pytest.fixture(scope="module")
def first(project: Path) -> TrainResult:
    return train(small_config("first"), project_dir=project)


@pytest.fixture(scope="module")
def client(project: Path, first: TrainResult) -> MlflowClient:
    return use_tracking(project)


def test_training_registers_a_challenger_with_its_lineage(
    project: Path, first: TrainResult, client: MlflowClient
) -> None:
    assert (project / "mlflow.db").is_file(), "default store is SQLite in the project folder"
    version = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    assert str(version.version) == first.model_version
    assert version.tags["contract_version"] == CONTRACT_VERSION
    assert version.tags["run_id"] == first.run_id
    run = client.get_run(first.run_id)
    assert run.data.params["contract_version"] == CONTRACT_VERSION
    assert len(run.data.params["data.fingerprint_sha256"]) == 64
    for metric in (
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "precision_at_5pct",
        "recall_at_10pct",
        "true_risk_roc_auc",
        "roc_auc_gap_to_true_risk",
        "fairness_passed",
        "support_kappa_quadratic",
        "support_kappa_quadratic_segment_mode",
        "support_recommended_share_team",
        "support_ece_team",
        "support_team_threshold",
    ):
        assert metric in run.data.metrics, metric
    assert run.data.metrics["support_alerts_below_consultation"] == 0
    assert first.support["support_kappa_quadratic"] == run.data.metrics["support_kappa_quadratic"]


def test_training_logs_the_artefacts_people_read(first: TrainResult, client: MlflowClient) -> None:
    names = {item.path for item in client.list_artifacts(first.run_id)}
    for expected in (
        "calibration.png",
        "shap_importance.png",
        "segments.csv",
        "fairness.csv",
        "model_card.md",
        "metrics.json",
        "test_set.parquet",
        "support_distribution.csv",
        "support_calibration.csv",
        "support_confusion_model_rule.csv",
        "support_confusion_segment_mode.csv",
    ):
        assert expected in names, expected
    card = Path(client.download_artifacts(first.run_id, "model_card.md")).read_text()
    for heading in (
        "## Intended use",
        "## Users",
        "## Data",
        "## Performance",
        "## Fairness",
        "## Limits",
        "## Recommended support level",
        "segment mode, every client (today's rule)",
        "hand_rule",
        "logistic",
    ):
        assert heading in card, heading


def test_baselines_are_runs_of_the_same_experiment(
    first: TrainResult, client: MlflowClient
) -> None:
    experiment = client.get_run(first.run_id).info.experiment_id
    children = client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{first.run_id}'"
    )
    assert {run.info.run_name for run in children} >= {"hand_rule", "logistic", "lightgbm"}


def test_first_promotion_makes_the_champion_and_it_loads_by_alias(
    first: TrainResult, client: MlflowClient
) -> None:
    decision = promote(client)
    assert decision.promoted, decision.reason
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    records = generate_cohort("pirkanmaa", 20, seed=99)
    # as a booking system sends them: JSON values, nulls for missing
    assessed = model.predict(pd.DataFrame(as_json_records(records)))
    assert list(assessed.columns) == list(OUTPUT_COLUMNS)
    assert assessed["alert_probability"].between(0, 1).all()
    assert set(assessed["alert_level"]) <= {"none", "raised", "high"}
    levels = {"none", "self_care", "consultation", "team"}
    assert set(assessed["recommended_support_level"]) <= levels
    alerted = assessed.loc[assessed["alert"], "recommended_support_level"]
    assert set(alerted) <= {"consultation", "team"}
    assert promote(client).reason.endswith("is already the champion")


def test_a_worse_challenger_is_refused_and_the_champion_stays(
    first: TrainResult, client: MlflowClient, project: Path
) -> None:
    promote(client)  # make sure a champion exists, whatever ran before
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version
    weak = {"n_estimators": 10, "num_leaves": 2, "learning_rate": 0.01, "monotone": False}
    worse = train(small_config("worse", alert=weak), project_dir=project)
    decision = promote(client)
    assert not decision.promoted
    assert (
        "does not beat" in decision.reason and f"version {worse.model_version}" in decision.reason
    )
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version == champion


def test_an_unfair_challenger_is_refused_naming_the_breach(
    first: TrainResult, client: MlflowClient, project: Path
) -> None:
    strict = {"max_true_positive_rate_difference": 0.0, "max_false_positive_rate_difference": 0.0}
    train(small_config("strict", fairness=strict), project_dir=project)
    decision = promote(client)
    assert not decision.promoted
    assert "breaches the fairness limits" in decision.reason
    assert "differs by" in decision.reason


@pytest.mark.model
def test_a_challenger_whose_inputs_stand_for_a_protected_group_is_refused(
    first: TrainResult, client: MlflowClient, project: Path
) -> None:
    """Limits no real model can meet (a single input telling a group at all) make every input a
    proxy: training says so, tags the version, and promotion refuses it naming the proxy."""
    impossible = {"max_feature_auc": 0.5, "max_joint_auc": 0.5, "chance_sds": 0.0}
    result = train(small_config("proxied", proxy=impossible), project_dir=project)
    assert result.proxy_breaches and "a proxy for" in result.proxy_breaches[0]
    version = client.get_model_version(MODEL_NAME, str(result.model_version))
    assert version.tags["proxy_passed"] == "false"
    decision = promote(client)
    assert not decision.promoted
    assert "breaches the proxy limits" in decision.reason
    assert first.proxy_breaches == []  # the default limits pass on the synthetic population
    card = Path(client.download_artifacts(first.run_id, "model_card.md")).read_text()
    assert "## Proxy audit" in card


def test_cli_compare_prints_the_runs(first: TrainResult, project: Path) -> None:
    result = CliRunner().invoke(app, ["compare"])
    assert result.exit_code == 0, result.output
    assert "hand_rule" in result.output and "logistic" in result.output
    assert "roc_auc" in result.output


def test_cli_promote_refusal_exits_non_zero(
    first: TrainResult, project: Path, client: MlflowClient
) -> None:
    promote(client)  # whatever the order of tests, the challenger is now champion or refused
    result = CliRunner().invoke(app, ["promote"])
    assert result.exit_code == 1
    assert "challenger" in result.output


def test_cli_train_names_the_bad_field_of_a_config(project: Path) -> None:
    config = project / "bad.yaml"
    config.write_text("name: bad\nalert:\n  num_leaves: many\n")
    result = CliRunner().invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 2
    assert "alert.num_leaves" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_mlflow_models_serve_scores_json_booking_records(
    first: TrainResult, client: MlflowClient, project: Path
) -> None:
    port = _free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    mlflow_cli = shutil.which("mlflow", path=bin_dir) or "mlflow"
    server = subprocess.Popen(
        [mlflow_cli, "models", "serve", "-m", f"models:/{MODEL_NAME}@{CHAMPION}",
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("mlflow models serve did not answer /ping within 150 s")
        records = as_json_records(generate_cohort("etela-pohjanmaa", 5, seed=3))
        records[0]["work_ability_score"] = None
        records[1].pop("contact_reason")  # an optional field left out
        body = json.dumps({"dataframe_records": records}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
        assert len(predictions) == 5
        assert all(0 <= p["alert_probability"] <= 1 for p in predictions)
        assert all(p["segment_id"].startswith("S") for p in predictions)
        known = {"none", "self_care", "consultation", "team"}
        assert all(p["recommended_support_level"] in known for p in predictions)
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- the registered model as booking systems and batch jobs use it -----------------------------------


def matti(age: int, **changes: object) -> dict[str, object]:
    """DOMAIN.md: Matti phones for a flu that has dragged on; he is unemployed (for long) and would
    like guidance; he rates his work ability low. Concerns were not asked."""
    return {
        "client_ref": "matti-0001",
        "booking_id": f"matti-{age}",
        "booking_time": "2025-03-03T09:00:00Z",
        "age": age,
        "sex": "male",
        "first_language": "fi",
        "region": "keski-suomi",
        "municipality": "179",
        "employment_status": "unemployed",
        "months_unemployed": 30,
        "sickness_absence_days_12m": 0,
        "healthcare_visits_12m": 3,
        "contact_reason": "R",
        "complaint_duration_weeks": 8,
        "work_ability_score": 4,
        "referral_source": "self",
        "client_group": "new_client",
        **changes,
    }


@pytest.mark.model
def test_the_matti_story_raises_an_alert_by_the_registered_rule(
    first: TrainResult, client: MlflowClient
) -> None:
    """The registered model's own answer (its threshold, set by training), whatever Matti's age."""
    model = load_model(f"models:/{MODEL_NAME}/{first.model_version}")
    assessed = model.predict(None, pd.DataFrame([matti(25), matti(35), matti(55)]))
    assert assessed["alert"].all(), assessed
    assert (assessed["alert_level"] != "none").all()
    assert set(assessed["recommended_support_level"]) <= {"consultation", "team"}
    probabilities = assessed["alert_probability"]
    assert (probabilities == probabilities.iloc[0]).all()  # age is never an input


@pytest.mark.model
def test_a_working_client_with_a_short_complaint_raises_no_alert(first: TrainResult) -> None:
    model = load_model(f"models:/{MODEL_NAME}/{first.model_version}")
    calm = matti(
        40,
        employment_status="employed",
        months_unemployed=0,
        complaint_duration_weeks=1,
        work_ability_score=9,
    )
    assert not model.predict(None, pd.DataFrame([calm]))["alert"].iloc[0]


def test_small_and_large_frames_are_scored_alike(first: TrainResult) -> None:
    """Record-by-record validation (small frames) and column-wise validation (large ones) feed
    the same scoring path: the same bookings get the same answers either way."""
    from models.packaged import RECORD_VALIDATION_ROWS

    model = load_model(f"models:/{MODEL_NAME}/{first.model_version}")
    records = pd.DataFrame(as_json_records(generate_cohort("pirkanmaa", 1_200, seed=5)))
    assert len(records) > RECORD_VALIDATION_ROWS
    large = model.predict(None, records)
    small = pd.concat(
        [model.predict(None, records.iloc[i : i + 100]) for i in range(0, len(records), 100)]
    )
    pd.testing.assert_frame_equal(small, large)


def test_small_frames_are_validated_by_the_contract_naming_row_and_field(
    first: TrainResult,
) -> None:
    from data_contracts.validation import ContractError

    model = load_model(f"models:/{MODEL_NAME}/{first.model_version}")
    bad = pd.DataFrame([matti(30), matti(31, work_ability_score=11, booking_id="b-2")])
    with pytest.raises(ContractError) as caught:
        model.predict(None, bad)
    assert "row 2, field 'work_ability_score'" in str(caught.value)


def test_the_registered_model_loads_and_scores_without_the_training_code(
    first: TrainResult, project: Path
) -> None:
    """A scoring host needs the model package, not the training code: with ``training``,
    ``serving`` and ``monitoring`` made unimportable the model still loads and predicts."""
    script = (
        "import sys, json, pandas as pd\n"
        "for name in ('training', 'serving', 'monitoring', 'kykytutka'):\n"
        "    sys.modules[name] = None\n"
        "from models.registry import load_model, use_tracking\n"
        "use_tracking()\n"
        f"model = load_model('models:/{MODEL_NAME}/{first.model_version}')\n"
        "rows = pd.DataFrame(json.loads(sys.stdin.read()))\n"
        "print(model.predict(None, rows)['alert_probability'].round(6).tolist())\n"
    )
    records = as_json_records(generate_cohort("pirkanmaa", 3, seed=2))
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(records),
        capture_output=True,
        text=True,
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(json.loads(done.stdout.strip().splitlines()[-1])) == 3


def test_a_model_of_an_older_release_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    """Registered models pickle their classes' paths; one whose classes moved away must not load
    with a traceback, but be refused with the way out (re-train, or re-register)."""
    old = tmp_path / "old_release"
    old.mkdir()
    (old / "kykytutka_old_model.py").write_text(
        "from mlflow.pyfunc.model import PythonModel\n"
        "class KykytutkaModel(PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return model_input\n"
    )
    saved = tmp_path / "model"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import mlflow, kykytutka_old_model as m\n"
            f"mlflow.pyfunc.save_model({str(saved)!r}, python_model=m.KykytutkaModel(), "
            "pip_requirements=[])\n",
        ],
        env={**os.environ, "PYTHONPATH": str(old), "MLFLOW_DISABLE_TELEMETRY": "true"},
        check=True,
        capture_output=True,
        timeout=120,
    )
    with pytest.raises(IncompatibleModel, match="Re-train and register it"):
        load_model(str(saved))
    code = CliRunner().invoke(
        app,
        ["monitor", "--reference", "x.parquet", "--current", "y.parquet", "--model", str(saved),
         "--out", str(tmp_path / "out"), "--no-mlflow"],
    )  # fmt: skip
    assert code.exit_code == 2, code.output
    assert "older version of kykytutka" in code.output
    assert "Traceback" not in code.output


def test_the_signature_names_only_model_features_and_misspelt_columns_are_refused(
    first: TrainResult,
) -> None:
    from data_contracts.contract import MODEL_FEATURES
    from data_contracts.validation import ContractError

    info = mlflow.models.get_model_info(f"models:/{MODEL_NAME}/{first.model_version}")
    assert info.signature is not None
    assert info.signature.inputs.input_names() == list(MODEL_FEATURES)
    model = load_model(f"models:/{MODEL_NAME}/{first.model_version}")
    misspelt = pd.DataFrame([matti(30)]).rename(columns={"work_ability_score": "work_abilty_score"})
    with pytest.raises(ContractError, match="work_abilty_score"):
        model.predict(None, misspelt)
    # Through mlflow.pyfunc MLflow drops the unknown column first; the real one is then missed.
    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{first.model_version}")
    with pytest.raises(mlflow.exceptions.MlflowException, match="work_ability_score"):
        pyfunc.predict(misspelt)
