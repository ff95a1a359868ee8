"""Staff feedback on a card (CDS Hooks 2.0, "Feedback"), checked against what the card offered and
turned into rows of the audit store's ``feedback`` table.

An ``accepted`` outcome names the suggestions taken (``acceptedSuggestions``, required), each a
suggestion of that card; an ``overridden`` one may carry one ``overrideReason`` whose ``reason`` is
one the card offered. The reason's code is stored; the accepted suggestion is not (the table has
no column for it, and a card offers one suggestion); the free-text ``userComment`` is accepted
and never stored or logged.

The store is append-only, so a correction is one more row: a decision holds at most
``MAX_FEEDBACK_PER_DECISION`` feedback rows (the first and its corrections, from CDS Hooks and the
front desk's page alike), and a request past it is refused whole (``FeedbackFull``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any
from uuid import UUID

from audit.store import now
from serving.cds_hooks.recording import hook_call
from serving.cds_hooks.schemas import Feedback, FeedbackRequest, refused, validated


class UnknownCard(LookupError):
    """Feedback on a card this service did not issue to the caller: no decision with the card's
    id, or one another API key asked for (a booking system cannot tell which)."""

    def __init__(self, field: str, card: str) -> None:
        super().__init__(f"no card {card} ({field})")


#: feedback rows one decision may have, the first and its corrections: without a bound a client
#: could post about one card for ever, each post a chained row that can never be deleted
MAX_FEEDBACK_PER_DECISION = 10

#: members whose values a 422 never echoes: the free-text comment
_FREE_TEXT = frozenset({"userComment", "overrideReason"})


class FeedbackFull(Exception):
    """Feedback on a decision that already has ``MAX_FEEDBACK_PER_DECISION`` feedback rows."""

    def __init__(self, field: str, decision_id: str) -> None:
        super().__init__(
            f"{field}: card {decision_id} already has {MAX_FEEDBACK_PER_DECISION} feedback "
            "entries (the first and its corrections), the most one card takes; nothing was "
            "recorded"
        )
        self.decision_id = decision_id


def check_room(
    decision_ids: Sequence[str], counts: Callable[[Sequence[str]], dict[str, int]]
) -> None:
    """FeedbackFull for the first of ``decision_ids`` (entry ``feedback.<position>``) whose
    decision has no room for one more feedback row; ``counts`` reads how many rows each has, all
    of them in one query.

    Checked before the write, not in its transaction: two requests about one card at the same
    moment may both pass and overshoot the bound by a row or so, which is acceptable (the bound
    is against a client posting without end, not an exact quota)."""
    held = counts(decision_ids)
    for position, decision_id in enumerate(decision_ids):
        if held.get(decision_id, 0) >= MAX_FEEDBACK_PER_DECISION:
            raise FeedbackFull(f"feedback.{position}.card", decision_id)


def read_feedback(body: Any) -> FeedbackRequest:
    """The feedback request in the specification's shape, or Malformed naming the field. One
    request holds at most ``MAX_FEEDBACK`` entries and one for each card: a client reports one
    user action on a card at a time, and a later request corrects an earlier one."""
    request = validated(FeedbackRequest, body, hide=_FREE_TEXT)
    cards: dict[UUID, int] = {}
    for position, item in enumerate(request.feedback):
        where = f"feedback.{position}"
        if item.card in cards:
            raise refused(
                f"{where}.card",
                str(item.card),
                f"the card of feedback.{cards[item.card]} again: one entry for a card a request",
            )
        cards[item.card] = position
        if item.outcome == "accepted" and not item.acceptedSuggestions:
            raise refused(f"{where}.acceptedSuggestions", None, "required when accepted")
        if item.outcome == "accepted" and item.overrideReason is not None:
            raise refused(f"{where}.overrideReason", None, "only when overridden")
        if item.outcome == "overridden" and item.acceptedSuggestions:
            raise refused(f"{where}.acceptedSuggestions", None, "only when accepted")
    return request


def feedback_rows(
    request: FeedbackRequest, stored: Callable[[str], dict[str, Any] | None]
) -> list[dict[str, Any]]:
    """One audit row per feedback entry, each checked against its card (``stored`` reads a
    decision by id, None for one the caller may not see); Malformed names the first entry that
    does not fit, UnknownCard the first card there is none of."""
    received = now()
    rows = []
    for position, item in enumerate(request.feedback):
        offered = _offered(item, stored, f"feedback.{position}")
        rows.append(
            {
                "decision_id": str(item.card),
                "outcome": item.outcome,
                "override_reason": _reason(item, offered, f"feedback.{position}"),
                "outcome_at": item.outcomeTimestamp.astimezone(UTC),
                "received_at": received,
            }
        )
    return rows


def _offered(
    item: Feedback, stored: Callable[[str], dict[str, Any] | None], where: str
) -> dict[str, Any]:
    row = stored(str(item.card))
    if row is None:
        raise UnknownCard(f"{where}.card", str(item.card))
    call = hook_call(row["output"])
    offered = call.get("card") if call else None
    if not isinstance(offered, dict):
        raise refused(f"{where}.card", str(item.card), "this service issued no card with this id")
    suggestions = {s["uuid"] for s in offered.get("suggestions", [])}
    for index, accepted in enumerate(item.acceptedSuggestions or []):
        if str(accepted.id) not in suggestions:
            raise refused(
                f"{where}.acceptedSuggestions.{index}.id",
                str(accepted.id),
                "not a suggestion of this card",
            )
    return offered


def _reason(item: Feedback, offered: dict[str, Any], where: str) -> str | None:
    reason = item.overrideReason.reason if item.overrideReason else None
    if reason is None:
        return None  # overridden without a reason, or with a comment only
    codes = {(r["system"], r["code"]) for r in offered.get("overrideReasons", [])}
    if (reason.system, reason.code) not in codes:
        raise refused(
            f"{where}.overrideReason.reason",
            reason.code,
            f"not an override reason this card offered (system {reason.system})",
        )
    return reason.code
