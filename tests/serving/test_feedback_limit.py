"""Feedback per decision is bounded (MAX_FEEDBACK_PER_DECISION rows: the first and its
corrections), on the CDS Hooks feedback endpoint and the front desk's page alike: past it 409,
documented, nothing of the request written; the count is one indexed query for all the cards."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mlflow
import pytest
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient

from audit.store import AuditStore
from serving.app import create_app
from serving.cds_hooks.cards import CardOffer
from serving.cds_hooks.feedback import MAX_FEEDBACK_PER_DECISION
from serving.cds_hooks.recording import KEY
from serving.pages.texts import TEXTS
from serving.security import Role, create_key
from tests.serving.test_openapi import no_model_settings

pytestmark = [pytest.mark.code]

FEEDBACK = "/cds-services/kykytutka-work-ability/feedback"
NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class Served:
    client: TestClient
    keys: dict[str, str]  # key name: key
    audit: AuditStore

    def card(self, made_by: str = "booking") -> str:
        """A new decision of ``made_by`` whose hook call issued a card; its id."""
        decision_id = str(uuid.uuid4())
        output = {"alert_level": "high", KEY: {"hookInstance": "h", "card": CardOffer.new().kept()}}
        self.audit.record([_decision(decision_id, output, made_by)])
        return decision_id

    def feedback(self, *cards: str, key: str = "booking", **entry: Any) -> Any:
        entries = [
            {"card": card, "outcome": "overridden", "outcomeTimestamp": NOW.isoformat(), **entry}
            for card in cards
        ]
        headers = {"Authorization": f"Bearer {self.keys[key]}"}
        return self.client.post(FEEDBACK, json={"feedback": entries}, headers=headers)

    def rows(self, decision_id: str) -> int:
        return len(self.audit.feedback_for(decision_id))


def _decision(decision_id: str, output: dict[str, Any], made_by: str) -> dict[str, Any]:
    return {
        "decision_id": decision_id,
        "decided_at": NOW,
        "client_ref_hash": "ab" * 32,
        "booking_id": f"B-{decision_id[:8]}",
        "model_name": "kykytutka",
        "model_version": "1",
        "contract_version": "1.2.0",
        "alert_probability": 0.4,
        "alert": True,
        "segment_id": "S1",
        "inputs": {"age": 40},
        "output": output,
        "made_by": made_by,
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The service without a model (feedback needs none), its decisions written straight into
    its audit store."""
    folder = tmp_path_factory.mktemp("feedback-limit")
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        settings = no_model_settings(folder, rate_limit_per_second=0)
        roles = {
            "booking": Role.BOOKING_SYSTEM,
            "other-booking": Role.BOOKING_SYSTEM,
            "front-desk": Role.FRONT_DESK,
        }
        keys = {name: create_key(folder / "keys.json", name, role) for name, role in roles.items()}
        with TestClient(create_app(settings), follow_redirects=False) as client:
            yield Served(client, keys, client.app.state.audit)  # type: ignore[attr-defined]
    mlflow.set_tracking_uri(tracking)  # the lifespan pointed MLflow (process-wide) at its store
    mlflow.set_registry_uri(registry)


# -- CDS Hooks feedback -----------------------------------------------------------------------------


def test_a_card_takes_its_feedback_and_corrections_then_409_naming_it_and_the_limit(
    served: Served,
) -> None:
    card = served.card()
    for _ in range(MAX_FEEDBACK_PER_DECISION):
        answer = served.feedback(card)
        assert answer.status_code == 200 and answer.json() == {"recorded": 1}, answer.text
    refused = served.feedback(card)
    assert refused.status_code == 409
    assert set(refused.json()) == {"detail"}  # the documented refusal shape
    detail = refused.json()["detail"]
    assert "feedback.0.card" in detail and card in detail
    assert f"{MAX_FEEDBACK_PER_DECISION} feedback entries" in detail
    assert served.rows(card) == MAX_FEEDBACK_PER_DECISION


def test_a_request_with_one_full_card_records_nothing_of_itself(served: Served) -> None:
    full, fresh = served.card(), served.card()
    for _ in range(MAX_FEEDBACK_PER_DECISION):
        assert served.feedback(full).status_code == 200
    refused = served.feedback(fresh, full)
    assert refused.status_code == 409 and "feedback.1.card" in refused.json()["detail"]
    assert full in refused.json()["detail"] and fresh not in refused.json()["detail"]
    assert (served.rows(fresh), served.rows(full)) == (0, MAX_FEEDBACK_PER_DECISION)
    assert served.feedback(fresh).status_code == 200  # the other card still takes its own


def test_the_409_is_documented_and_answered_as_documented(served: Served) -> None:
    document = served.client.app.openapi()  # type: ignore[attr-defined]
    responses = document["paths"][FEEDBACK]["post"]["responses"]
    assert responses["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Refusal"
    }
    assert (
        f"at most {MAX_FEEDBACK_PER_DECISION} feedback entries"
        in (document["paths"][FEEDBACK]["post"]["description"])
    )
    card = served.card()
    for _ in range(MAX_FEEDBACK_PER_DECISION):
        served.feedback(card)
    refused = served.feedback(card)
    assert refused.status_code == 409
    schema = schemathesis.openapi.from_dict(document)
    schema[FEEDBACK]["POST"].Case().validate_response(refused)


def test_feedback_out_of_shape_or_not_the_callers_is_refused_before_the_count(
    served: Served,
) -> None:
    card = served.card()
    for _ in range(MAX_FEEDBACK_PER_DECISION):
        served.feedback(card)
    malformed = served.feedback(card, outcome="accepted")  # no acceptedSuggestions
    assert malformed.status_code == 422
    # Another booking system learns nothing of the card, not even that it is full.
    assert served.feedback(card, key="other-booking").status_code == 404
    assert served.rows(card) == MAX_FEEDBACK_PER_DECISION


# -- the count ---------------------------------------------------------------------------------------


def test_the_count_is_one_query_for_every_card_of_the_request(served: Served) -> None:
    cards = [served.card() for _ in range(3)]
    for number, card in enumerate(cards):
        for _ in range(number):
            assert served.feedback(card).status_code == 200
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = served.audit.engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        counts = served.audit.feedback_counts([*cards, str(uuid.uuid4())])
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert counts == {cards[1]: 1, cards[2]: 2}  # a card without feedback is left out
    assert len(statements) == 1 and "GROUP BY" in statements[0]
    assert served.audit.feedback_counts([]) == {}


def test_the_count_uses_the_index_on_feedback_decision_id(served: Served) -> None:
    query = "SELECT decision_id, count(*) FROM feedback WHERE decision_id IN ('a', 'b') GROUP BY 1"
    with served.audit.engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}").all()
    assert any("ix_feedback_decision_id" in str(step) for step in plan), plan


def test_the_count_uses_the_index_in_postgresql(postgres_url: str) -> None:
    store = AuditStore(postgres_url)
    try:
        ids = [str(uuid.uuid4()) for _ in range(3)]
        rows = [
            {"decision_id": ids[n % 2], "outcome": "accepted", "received_at": NOW} for n in range(5)
        ]
        store.record_feedback(rows)
        assert store.feedback_counts(ids) == {ids[0]: 3, ids[1]: 2}
        with store.engine.connect() as connection:
            connection.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: else a scan
            plan = connection.exec_driver_sql(
                "EXPLAIN SELECT decision_id, count(*) FROM feedback "
                f"WHERE decision_id IN ('{ids[0]}', '{ids[1]}') GROUP BY decision_id"
            ).all()
        assert any("ix_feedback_decision_id" in str(step) for step in plan), plan
    finally:
        store.close()


# -- the front desk's page ---------------------------------------------------------------------------


def _front_desk(served: Served) -> tuple[TestClient, str]:
    """A signed-in front-desk session, and its CSRF token."""
    client = TestClient(served.client.app, follow_redirects=False)
    form = client.get("/ui/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    sent = {"csrf": token.group(1), "key": served.keys["front-desk"]}
    assert client.post("/ui/sign-in", data=sent).status_code == 303
    booking = client.get("/ui/assess")
    token = re.search(r'name="csrf" value="([^"]+)"', booking.text)
    assert token is not None
    return client, token.group(1)


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_the_front_desk_page_shares_the_bound_and_says_so_in_each_language(
    served: Served, language: str
) -> None:
    desk, token = _front_desk(served)
    decision = served.card(made_by="front-desk")
    path = f"/ui/decisions/{decision.upper()}/feedback?lang={language}"  # the id in any case
    for _ in range(MAX_FEEDBACK_PER_DECISION):
        saved = desk.post(path, data={"csrf": token, "outcome": "accepted"})
        assert saved.status_code == 200, saved.text
    # The rows are the decision's as stored (its id in lower case), so the count found them.
    assert served.rows(decision) == MAX_FEEDBACK_PER_DECISION
    refused = desk.post(path, data={"csrf": token, "outcome": "accepted"})
    assert refused.status_code == 409
    assert TEXTS["feedback_full"][language] in refused.text
    assert str(MAX_FEEDBACK_PER_DECISION) in TEXTS["feedback_full"][language]
    assert served.rows(decision) == MAX_FEEDBACK_PER_DECISION


def test_cds_hooks_feedback_and_the_page_count_against_one_bound(served: Served) -> None:
    # A booking system's card cannot be given feedback on the front desk's page (another key's
    # decision), so the shared table is shown through the store: rows of either kind count.
    card = served.card()
    served.audit.record_feedback(
        [
            {"decision_id": card, "outcome": "accepted", "received_at": NOW, "recorded_by": "ui"}
            for _ in range(MAX_FEEDBACK_PER_DECISION)
        ]
    )
    assert served.feedback(card).status_code == 409
