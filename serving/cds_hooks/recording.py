"""What the audit row of a decision made through the hook keeps of the call: the hook instance,
the FHIR references the assessment was based on (QuestionnaireResponse, Appointments, Encounter)
and what its card offered, under ``output["cds_hooks"]``. Never the patient id (the client
reference is kept only as its keyed hash) nor the access token.

The decision builder (``serving.decisions``) writes the row; the hook hands it the service's audit
store wrapped so that these are added to the row before the one write, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from audit.store import AuditStore
from serving.cds_hooks.cards import CardOffer, issues_card

KEY = "cds_hooks"


class KeepingHookCall(AuditStore):
    """The service's audit store, adding the hook call to every decision it records."""

    def __init__(self, store: AuditStore, call: dict[str, Any], offer: CardOffer) -> None:
        # Deliberately not AuditStore.__init__: this is the service's store, not a second one.
        self._store = store
        self._call = call
        self._offer = offer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def decision_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # The hook through which record and arecord both pass the rows they write.
        return [{**row, "output": self._with_call(row["output"])} for row in rows]

    def record(self, rows: list[dict[str, Any]], timeout: float | None = None) -> None:
        self._store.record(self.decision_rows(rows), timeout)

    async def arecord(self, rows: list[dict[str, Any]], timeout: float | None = None) -> None:
        await self._store.arecord(self.decision_rows(rows), timeout)

    def _with_call(self, output: dict[str, Any]) -> dict[str, Any]:
        card = self._offer.kept() if issues_card(output) else None
        return {**output, KEY: {**self._call, "card": card}}


def hook_call(output: dict[str, Any]) -> dict[str, Any] | None:
    """What a stored decision kept of its hook call; None for a decision made another way."""
    kept = output.get(KEY)
    return kept if isinstance(kept, dict) else None
