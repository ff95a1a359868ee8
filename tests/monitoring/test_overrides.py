"""Do staff still judge the card? Simulated streams of staff feedback (CDS Hooks: accepted or
overridden, with a reason code) written straight into an audit store, read back by the override
check: near-zero overrides over enough cards is automation bias (the Polish lesson of DOMAIN.md),
one group's cards overridden far more often than another's is a group difference, and a healthy or
a thin stream breaches nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest

from audit.store import AuditStore, pseudonymise
from audit.windows import FEEDBACK_COLUMNS, read_feedback
from data_contracts.booking import CONTRACT_VERSION, BookingRecord
from data_contracts.records import as_json_records
from models.registry import use_tracking
from monitoring.config import MonitorConfig
from monitoring.monitor import MonitorResult, monitor
from synthetic.cohort import generate_cohort
from tests.monitoring.conftest import run_cli
from tests.monitoring.test_checks import UntrainedModel
from tests.projects import inside_project

# Behaviour: the check tells automation bias and unequal overriding from a healthy stream. No model
# is trained: the audit store holds the answers, and the reference is scored by a stand-in.
pytestmark = [pytest.mark.model]

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DECISIONS = 1_000  # monitoring reads a window of at least 1,000 assessments
REASONS = ("already-in-services", "not-relevant", "client-declined")
ONLY_OVERRIDES = MonitorConfig.model_validate({"checks": ["overrides"]})
#: what staff do with one card: overridden (True) or accepted, given its booking record
Staff = Callable[[dict[str, Any], np.random.Generator], bool]


@cache
def bookings(rows: int, seed: int) -> tuple[dict[str, Any], ...]:
    """Booking records as the service stores them (validated, the client reference removed)."""
    return tuple(
        {**BookingRecord.model_validate(record).model_dump(mode="json"), "client_ref": None}
        for record in as_json_records(generate_cohort("pirkanmaa", rows, seed=seed))
    )


def decision(inputs: dict[str, Any], decided_at: datetime, position: int) -> dict[str, Any]:
    return {
        "decision_id": str(uuid.uuid4()),
        "decided_at": decided_at,
        "client_ref_hash": pseudonymise(inputs["booking_id"], "k" * 40),
        "booking_id": inputs["booking_id"],
        "model_name": "kykytutka",
        "model_version": "1",
        "contract_version": CONTRACT_VERSION,
        "alert_probability": 0.3,
        "alert": position % 4 == 0,
        "segment_id": f"S{position % 4 + 1}",
        "inputs": inputs,
        "output": {},
    }


def staff(decision_id: str, overridden: bool, reason: str | None, at: datetime) -> dict[str, Any]:
    return {
        "decision_id": decision_id,
        "outcome": "overridden" if overridden else "accepted",
        "override_reason": reason if overridden else None,
        "outcome_at": at,
        "received_at": at,
    }


def write_stream(
    url: str,
    cards: int,
    overrides: Staff,
    seed: int,
) -> None:
    """DECISIONS assessments over the last three days; staff feedback on the first ``cards`` of
    them, each overridden when ``overrides(inputs, rng)`` says so, with a reason code."""
    rng = np.random.default_rng(seed)
    store = AuditStore(url)
    rows, answers = [], []
    for position, inputs in enumerate(bookings(DECISIONS, seed)):
        decided_at = NOW - timedelta(minutes=1) - timedelta(hours=72 * position / DECISIONS)
        row = decision(inputs, decided_at, position)
        rows.append(row)
        if position < cards:
            overridden = overrides(inputs, rng)
            reason = REASONS[position % len(REASONS)]
            answers.append(
                staff(row["decision_id"], overridden, reason, decided_at + timedelta(minutes=2))
            )
    store.record(rows)
    store.record_feedback(answers)
    store.engine.dispose()


def share(value: float) -> Staff:
    return lambda inputs, rng: bool(rng.random() < value)


def by_sex(female: float, male: float) -> Staff:
    """Exactly these shares of women's and of everyone else's cards overridden, spread evenly."""
    seen = {"female": 0, "male": 0}

    def overridden(inputs: dict[str, Any], rng: np.random.Generator) -> bool:
        sex = "female" if inputs["sex"] == "female" else "male"
        value, before = (female if sex == "female" else male), seen[sex]
        seen[sex] += 1
        return int(seen[sex] * value) > int(before * value)

    return overridden


def exactly(count: int) -> Staff:
    """The first ``count`` cards overridden, then none."""
    seen = iter(range(10**9))
    return lambda inputs, rng: next(seen) < count


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A reference booking file, an untrained stand-in for the model and the MLflow store."""
    monkeypatch.setattr(
        "monitoring.monitor.load_monitored_model", lambda uri: (UntrainedModel(), "1")
    )
    generate_cohort("pirkanmaa", 1_000, seed=3).to_parquet(tmp_path / "bookings.parquet")
    with inside_project(tmp_path):
        yield tmp_path


def run_check(folder: Path, url: str, current: str = "audit:7d") -> MonitorResult:
    return monitor(
        "bookings.parquet", current, folder / "report", ONLY_OVERRIDES, "m", url, False, NOW
    )


def test_the_reader_counts_each_booking_once_with_its_newest_feedback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    first, second, third, fourth = bookings(4, seed=1)
    at = NOW - timedelta(hours=1)
    corrected = decision(first, at, 0)  # accepted, then corrected to overridden
    silent = decision(second, at, 1)  # no feedback
    old = decision(third, NOW - timedelta(days=9), 2)  # outside the window
    tried, retried = decision(fourth, at, 3), decision(fourth, at + timedelta(seconds=30), 3)
    store = AuditStore(url)
    store.record([corrected, silent, old, tried, retried])
    store.record_feedback(
        [
            staff(corrected["decision_id"], False, None, at),
            staff(corrected["decision_id"], True, "client-declined", at + timedelta(minutes=5)),
            staff(old["decision_id"], True, "not-relevant", old["decided_at"]),
            staff(tried["decision_id"], True, "not-relevant", at),
            staff(retried["decision_id"], False, None, at + timedelta(minutes=1)),
        ]
    )
    store.engine.dispose()
    frame = read_feedback(url, NOW - timedelta(days=7), NOW)
    assert list(frame.columns) == list(FEEDBACK_COLUMNS)
    assert frame["decision_id"].tolist() == [corrected["decision_id"], retried["decision_id"]]
    assert frame["outcome"].tolist() == ["overridden", "accepted"]
    assert frame["override_reason"].tolist()[0] == "client-declined"
    assert frame["segment_id"].tolist() == ["S1", "S4"]
    assert frame["age"].tolist() == [first["age"], fourth["age"]]
    assert frame["sex"].tolist() == [first["sex"], fourth["sex"]]
    assert read_feedback(url, NOW - timedelta(days=30), NOW - timedelta(days=8)).shape == (1, 8)


def test_a_healthy_stream_is_within_limits(folder: Path) -> None:
    url = f"sqlite:///{folder / 'healthy.db'}"
    write_stream(url, cards=800, overrides=share(0.12), seed=11)
    result = run_check(folder, url)
    assert result.breaches == [], result.summary()
    check = result.checks["overrides"]
    assert check.metrics["overrides.cards"] == 800
    assert check.metrics["overrides.feedback_coverage"] == pytest.approx(0.8)
    assert check.metrics["overrides.share"] == pytest.approx(0.12, abs=0.03)
    assert {"overrides.share.reason.not-relevant", "overrides.share.segment.S1",
            "overrides.share.sex.female", "overrides.share.age_band.under 30",
            "overrides.share.first_language.fi"} <= set(check.metrics)  # fmt: skip
    compared = {c["attribute"] for c in check.summary["overrides"]["group_differences"]}
    # Some 70 of the 800 cards are of clients whose first language is not Finnish: too few (under
    # min_group_size, 100) to compare, so that attribute is shown but not checked.
    assert compared == {"sex", "age_band"}
    assert "staff feedback on 800 of the 1,000 cards: " in result.summary()
    table = pd.read_csv(folder / "report" / "overrides.csv", keep_default_na=False)
    assert table["dimension"].drop_duplicates().tolist() == [
        "all", "reason", "segment", "sex", "age_band", "first_language",
    ]  # fmt: skip
    assert (table["cards"] >= 10).all()  # the 3 clients of unknown sex are not shown
    assert "unknown" not in table.loc[table["dimension"] == "sex", "group"].tolist()
    reasons = table[table["dimension"] == "reason"]
    overall = table[table["dimension"] == "all"]
    assert reasons["overridden"].sum() == overall["overridden"].iloc[0]


def test_near_zero_overrides_over_enough_cards_is_automation_bias(folder: Path) -> None:
    url = f"sqlite:///{folder / 'rubber-stamp.db'}"
    write_stream(url, cards=500, overrides=exactly(2), seed=12)
    result = run_check(folder, url)
    (breach,) = result.breaches
    assert breach.startswith("automation bias: staff overrode 2 of 500 cards (0.4%, limit 1.0%)")
    assert "following the alert without judging it" in breach
    summary = json.loads((folder / "report" / "summary.json").read_text())
    assert summary["overrides"]["automation_bias"] is True
    assert summary["metrics"]["overrides.share"] == pytest.approx(0.004)


def test_women_s_cards_overridden_far_more_often_is_a_group_difference(folder: Path) -> None:
    url = f"sqlite:///{folder / 'women-overridden.db'}"
    write_stream(url, cards=DECISIONS, overrides=by_sex(female=0.25, male=0.05), seed=13)
    result = run_check(folder, url)
    (breach,) = result.breaches
    assert breach.startswith("staff override the cards of sex=female more often than of sex=male")
    (sex,) = [c for c in result.checks["overrides"].summary["overrides"]["group_differences"]
              if c["attribute"] == "sex"]  # fmt: skip
    assert sex["difference"] == pytest.approx(0.20, abs=0.01)
    assert sex["z"] >= 3 and not sex["passed"]
    assert result.checks["overrides"].metrics["overrides.share_difference.sex"] > 0.10


@pytest.mark.parametrize(
    ("cards", "overrides", "seed"),
    [
        (150, lambda: share(0.0), 14),  # no override at all, but under min_cards (200)
        (150, lambda: by_sex(female=0.5, male=0.0), 15),  # a wide gap; each sex under 100 cards
    ],
    ids=["no-overrides", "wide-gap"],
)
def test_few_cards_breach_nothing(
    folder: Path, cards: int, overrides: Callable[[], Staff], seed: int
) -> None:
    url = f"sqlite:///{folder / f'thin-{seed}.db'}"
    write_stream(url, cards=cards, overrides=overrides(), seed=seed)
    result = run_check(folder, url)
    assert result.breaches == [], result.summary()
    assert result.checks["overrides"].notes == [
        f"only {cards} cards with staff feedback: automation bias is judged from 200"
    ]


def test_a_booking_file_has_no_feedback_and_breaches_nothing(folder: Path) -> None:
    result = run_check(folder, "sqlite:///unused.db", current="bookings.parquet")
    assert result.breaches == []
    assert result.checks["overrides"].summary == {"overrides": None}
    assert "staff feedback: none (a booking file" in result.summary()
    assert not (folder / "report" / "overrides.csv").exists()


def test_a_window_without_feedback_says_so(folder: Path) -> None:
    url = f"sqlite:///{folder / 'no-feedback.db'}"
    write_stream(url, cards=0, overrides=share(0.1), seed=16)
    result = run_check(folder, url)
    assert result.breaches == []
    assert "staff feedback: none on the window's 1,000 cards" in result.summary()
    assert "sending the CDS Hooks feedback" in result.notes()[0]


@pytest.mark.parametrize(
    ("stream", "expected"),
    [("rubber-stamp", 1), ("healthy", 0)],
)
def test_kykytutka_monitor_exits_on_the_override_check(
    folder: Path, stream: str, expected: int
) -> None:
    url = f"sqlite:///{folder / f'{stream}.db'}"
    healthy = stream == "healthy"
    write_stream(url, 600, share(0.1) if healthy else exactly(0), seed=17)
    (folder / "overrides.yaml").write_text("checks: [overrides]\n")
    code, output = run_cli(
        "--reference", "bookings.parquet", "--current", "audit:2026-11-20..2026-11-24",
        "--out", str(folder / "report"), "--config", "overrides.yaml", "--audit-url", url,
        *(() if healthy else ("--no-mlflow",)),
    )  # fmt: skip
    assert code == expected, output
    assert ("BREACH: automation bias: staff overrode 0 of 600 cards" in output) != healthy
    if healthy:  # every metric name is one MLflow takes, the "60+" age band's too
        use_tracking(folder)
        (run,) = mlflow.search_runs(experiment_names=["kykytutka-monitoring"], output_format="list")
        assert run.data.metrics["overrides.cards"] == 600
        assert "overrides.share.age_band.60plus" in run.data.metrics
        assert run.data.params["min_override_share"] == "0.01"
