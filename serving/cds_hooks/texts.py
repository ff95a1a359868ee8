"""What staff read on a card and in the FHIR view, in Finnish, Swedish and English.

The support levels and service steps are ``models.services``'. Terms follow
../shared/GLOSSARY.md (alkupalvelu / inledande tjänst / initial service; työkyvyn tuki / stöd för
arbetsförmågan / work-ability support). The summary passes a five-second test: what
to do, no percentage, well under the 140 characters CDS Hooks allows.
"""

from __future__ import annotations

from typing import Any

from models.services import SERVICE_STEPS, SUPPORT_LEVEL_TEXTS, service_path

LANGUAGES = ("fi", "sv", "en")

#: the card's summary by alert level (no card for "none")
SUMMARY = {
    "fi": {
        "raised": "Merkkejä työkyvyn tuen tarpeesta: harkitse alkupalvelun varaamista.",
        "high": "Vahvoja merkkejä työkyvyn tuen tarpeesta: varaa alkupalvelu.",
    },
    "sv": {
        "raised": "Tecken på behov av stöd för arbetsförmågan: överväg att boka den inledande tjänsten.",
        "high": "Starka tecken på behov av stöd för arbetsförmågan: boka den inledande tjänsten.",
    },
    "en": {
        "raised": "Signs of a work-ability support need: consider booking the initial service.",
        "high": "Strong signs of a work-ability support need: book the initial service.",
    },
}
#: the one suggestion a card offers
INITIAL_SERVICE = {
    "fi": "Varaa alkupalvelu: työkyvyn tuen tarpeen arviointi",
    "sv": "Boka den inledande tjänsten: bedömning av behovet av stöd för arbetsförmågan",
    "en": "Book the initial service: work-ability support-need assessment",
}
ADVISORY = {
    "fi": "Neuvoa-antava ehdotus: henkilökunta päättää.",
    "sv": "Rådgivande förslag: personalen beslutar.",
    "en": "Advisory: staff decide.",
}
WHY = {"fi": "Perusteet", "sv": "Skäl", "en": "Why"}
LEVEL = {"fi": "Ehdotettu tuen taso", "sv": "Föreslagen stödnivå", "en": "Suggested support level"}
PATH = {"fi": "Palvelupolku", "sv": "Servicestig", "en": "Service path"}
PROFILE = {"fi": "Asiakasprofiili", "sv": "Klientprofil", "en": "Client profile"}
#: the reasons a card offers for overriding it: code -> display
OVERRIDE_REASONS = {
    "already-in-services": {
        "fi": "Asiakas saa jo työkyvyn tukea",
        "sv": "Klienten får redan stöd för arbetsförmågan",
        "en": "Client already receives work-ability support",
    },
    "not-relevant": {
        "fi": "Ei olennainen tässä ajanvarauksessa",
        "sv": "Inte relevant för denna tidsbokning",
        "en": "Not relevant for this booking",
    },
    "client-declined": {
        "fi": "Asiakas kieltäytyi",
        "sv": "Klienten avböjde",
        "en": "Client declined",
    },
}
# -- the FHIR RiskAssessment ------------------------------------------------------------------------
ASSESSMENT = {
    "fi": "Työkyvyn tuen tarpeen arvio ajanvarauksessa",
    "sv": "Bedömning av behovet av stöd för arbetsförmågan vid tidsbokning",
    "en": "Work-ability support need assessment at booking",
}
OUTCOME = {
    "fi": "Tarvitsee työkyvyn tukea",
    "sv": "Behöver stöd för arbetsförmågan",
    "en": "Needs work-ability support",
}
ALERT_LEVELS = {
    "fi": {"none": "Ei hälytystä", "raised": "Hälytys", "high": "Korkean tason hälytys"},
    "sv": {"none": "Inget larm", "raised": "Larm", "high": "Larm på hög nivå"},
    "en": {"none": "No alert", "raised": "Alert", "high": "High alert"},
}


def language_of(output: dict[str, Any]) -> str:
    """The language a stored decision was answered in (Finnish when it does not say)."""
    language = output.get("language")
    return language if language in LANGUAGES else "fi"


def recommended_level(output: dict[str, Any]) -> str:
    """The support level to suggest: the per-client recommendation when the decision has one,
    else the segment's typical level."""
    recommendation = output.get("recommendation")
    if isinstance(recommendation, dict) and recommendation.get("support_level"):
        return str(recommendation["support_level"])
    return str(output["segment"]["support_level"])


def support_level_text(level: str, language: str) -> str:
    known = SUPPORT_LEVEL_TEXTS.get(level)
    return known[language] if known is not None else level


def service_path_text(steps: list[str], consented: bool, language: str) -> str:
    """The service path as staff read it (``models.services``: without the client's consent to
    multi-agency work, the steps that share data are left out and asking for consent comes
    first); steps that are already texts are shown as they are."""
    if all(step in SERVICE_STEPS for step in steps):
        return "; ".join(service_path(steps, consented, language))
    return "; ".join(steps)
