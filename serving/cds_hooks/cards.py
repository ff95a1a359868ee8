"""The CDS Hooks card for one assessment, and what a card offers (kept with the decision so that
feedback can be checked against it).

CDS Hooks 2.0, "Card Attributes": ``summary`` under 140 characters, ``indicator`` info | warning |
critical, ``source.label`` required; a card with ``suggestions`` states its ``selectionBehavior``;
``overrideReasons`` are Codings with a ``display``; ``uuid`` is what feedback names. The indicator
follows the definitions of the HL7 code system cdshooks-indicator (2.0.0): ``info`` "additional
information or relevant guidance that may be of interest", ``warning`` "urgent or highly relevant
information that should be considered", ``critical`` "high urgency and importance that should be
immediately addressed". A raised alert is guidance that may be of interest (info), a high alert
highly relevant information (warning); a possible support need is never critical.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from serving.cds_hooks import texts

OVERRIDE_SYSTEM = "urn:kykytutka:cds:override-reason"
SEGMENT_SYSTEM = "urn:kykytutka:segment"
INITIAL_SERVICE = "initial-service"
INDICATORS = {"raised": "info", "high": "warning"}


def issues_card(output: dict[str, Any]) -> bool:
    """Whether an assessment gets a card: only when the indicators raise an alert."""
    return output.get("alert_level", "none") in INDICATORS


@dataclass(frozen=True)
class CardOffer:
    """What a card offers staff: its suggestion (with the uuid feedback names) and the codes of
    its override reasons."""

    suggestion: str

    @classmethod
    def new(cls) -> CardOffer:
        return cls(suggestion=str(uuid.uuid4()))

    def kept(self) -> dict[str, Any]:
        """As the audit row keeps it (``output["cds_hooks"]["card"]``)."""
        return {
            "suggestions": [{"uuid": self.suggestion, "code": INITIAL_SERVICE}],
            "overrideReasons": [
                {"system": OVERRIDE_SYSTEM, "code": code} for code in texts.OVERRIDE_REASONS
            ],
        }


def card(
    assessment: dict[str, Any],
    language: str,
    offer: CardOffer,
    model_card_url: str,
    consented: bool = False,
) -> dict[str, Any]:
    """The card of an alerted assessment (``assessment`` as the API answers it; ``consented``:
    the client consents to multi-agency work, which some service steps need)."""
    level = assessment["alert_level"]
    segment = assessment["segment"]
    model = assessment["model"]
    return {
        "uuid": assessment["decision_id"],
        "summary": texts.SUMMARY[language][level],
        "indicator": INDICATORS[level],
        "detail": detail(assessment, language, consented),
        "source": {
            "label": f"Kykytutka {model['name']} v{model['version']}",
            "url": model_card_url,
            "topic": {"system": SEGMENT_SYSTEM, "code": segment["id"], "display": segment["name"]},
        },
        "suggestions": [
            {
                "label": texts.INITIAL_SERVICE[language],
                "uuid": offer.suggestion,
                "isRecommended": True,
            }
        ],
        "selectionBehavior": "at-most-one",
        "overrideReasons": [
            {"system": OVERRIDE_SYSTEM, "code": code, "display": display[language]}
            for code, display in texts.OVERRIDE_REASONS.items()
        ],
    }


def detail(assessment: dict[str, Any], language: str, consented: bool = False) -> str:
    """GitHub-flavoured Markdown: the reasons, the suggested support level and service path, the
    client profile, and that staff decide."""
    segment = assessment["segment"]
    lines = [f"**{texts.WHY[language]}**", ""]
    lines += [f"- {reason['text']}" for reason in assessment["reasons"]]
    level = texts.support_level_text(texts.recommended_level(assessment), language)
    lines += ["", f"**{texts.LEVEL[language]}:** {level}"]
    steps = segment.get("service_steps") or segment.get("service_path")
    if steps:
        path = texts.service_path_text(steps, consented, language)
        lines += ["", f"**{texts.PATH[language]}:** {path}"]
    lines += ["", f"**{texts.PROFILE[language]}:** {segment['id']} {segment['name']}"]
    lines += ["", f"_{texts.ADVISORY[language]}_"]
    return "\n".join(lines)
