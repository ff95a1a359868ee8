"""Reasons for the front desk: SHAP contributions per contract field as plain sentences.

Finnish, Swedish or English, chosen from Accept-Language; labels and value texts come from the
feature specification (``features.spec``). The numbers come from
``KykytutkaModel.explain_records``: contributions summed back to the contract's fields, in log-odds,
which with the base value add up to the model's raw score.
"""

from __future__ import annotations

from typing import Any

from data_contracts.contract import MODEL_FEATURES
from features.sentences import reason_sentence, unanswered_heading
from features.spec import LANGUAGES, label


def choose_language(accept_language: str | None) -> str:
    """The first of fi, sv, en that Accept-Language asks for (by q-value); Finnish by default."""
    if not accept_language:
        return "fi"
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower().split("-")[0]
        quality = 1.0
        for piece in pieces[1:]:
            if piece.strip().startswith("q="):
                try:
                    quality = float(piece.strip()[2:])
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    return "fi"


def reasons(
    contributions: dict[str, float], record: dict[str, Any], language: str, top: int
) -> list[dict[str, Any]]:
    """The ``top`` largest contributions of the fields that were answered, signed, each with a
    sentence in ``language`` (``features.sentences``). A field left unanswered is never a reason:
    ``unanswered`` lists it apart."""
    answered = [(f, c) for f, c in contributions.items() if record.get(f) is not None and c != 0]
    ranked = sorted(answered, key=lambda item: abs(item[1]), reverse=True)[:top]
    return [
        {
            "field": field,
            "value": record[field],
            "contribution": round(contribution, 4),
            # "raises": makes a support need more likely; never a claim of cause
            "direction": "raises" if contribution > 0 else "lowers",
            "text": reason_sentence(field, record[field], contribution > 0, language),
        }
        for field, contribution in ranked
    ]


def unanswered(record: dict[str, Any], language: str) -> list[dict[str, str]]:
    """The model's questions left unanswered in this booking, so that staff can ask them:
    e.g. {"field": "work_ability_score", "heading": "Not asked", "text": "Self-rated work ability"}."""
    return [
        {
            "field": name,
            "heading": unanswered_heading(name, language),
            "text": label(name, language),
        }
        for name in MODEL_FEATURES
        if record.get(name) is None
    ]
