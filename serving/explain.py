"""Reasons for the front desk: SHAP contributions per contract field as plain sentences.

Finnish, Swedish or English, chosen from Accept-Language; labels and value texts come from the
feature specification (``features.spec``). The numbers come from
``KykytutkaModel.explain_records``: contributions summed back to the contract's fields, in log-odds,
which with the base value add up to the model's raw score.
"""

from __future__ import annotations

from typing import Any

from features.spec import LANGUAGES, label, value_text

RAISES = ("nostaa tuen tarvetta", "höjer stödbehovet", "raises the need for support")
LOWERS = ("laskee tuen tarvetta", "sänker stödbehovet", "lowers the need for support")


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
    """The ``top`` largest contributions, signed, with a sentence in ``language``."""
    lang = LANGUAGES.index(language)
    ranked = sorted(contributions.items(), key=lambda item: abs(item[1]), reverse=True)[:top]
    out = []
    for field, contribution in ranked:
        value = record.get(field)
        direction = RAISES if contribution > 0 else LOWERS
        out.append(
            {
                "field": field,
                "value": value,
                "contribution": round(contribution, 4),
                "direction": "raises" if contribution > 0 else "lowers",
                "text": f"{label(field, language)} {value_text(field, value, language)} "
                f"{direction[lang]}",
            }
        )
    return out
