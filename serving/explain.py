"""Reasons for the front desk: SHAP contributions per contract field as plain sentences.

Finnish, Swedish or English, chosen from Accept-Language. The numbers come from
``kykytutka.model.assess_records``: contributions summed back to the contract's fields, in log-odds,
which with the base value add up to the model's raw score.
"""

from __future__ import annotations

from typing import Any

from features.transformers import WORK_ABILITY_BANDS

LANGUAGES = ("fi", "sv", "en")

# fmt: off
LABELS: dict[str, tuple[str, str, str]] = {
    "work_ability_score": ("Itsearvioitu työkyky", "Självskattad arbetsförmåga", "Self-rated work ability"),
    "months_unemployed": ("Työttömyyden kesto", "Arbetslöshetens längd", "Length of unemployment"),
    "employment_status": ("Työtilanne", "Arbetssituation", "Employment status"),
    "sickness_absence_days_12m": (
        "Sairauspoissaolot 12 kk", "Sjukfrånvaro 12 mån", "Sickness absence, 12 months"
    ),
    "healthcare_visits_12m": (
        "Terveyskeskuskäynnit 12 kk", "Hälsocentralsbesök 12 mån", "Health-care visits, 12 months"
    ),
    "contact_reason": ("Yhteydenoton syy (ICPC-2)", "Kontaktorsak (ICPC-2)", "Reason for contact (ICPC-2)"),
    "complaint_duration_weeks": ("Vaivan kesto", "Besvärets längd", "Duration of the complaint"),
    "referral_source": ("Ohjaaja", "Remitterande", "Referred by"),
    "client_group": ("Asiakasryhmä", "Klientgrupp", "Client group"),
    "mental_health_concern": ("Mielenterveyshuoli", "Psykisk ohälsa", "Mental-health concern"),
    "substance_use_concern": ("Päihdehuoli", "Missbruksoro", "Substance-use concern"),
    "financial_difficulties": ("Taloudelliset vaikeudet", "Ekonomiska svårigheter", "Financial difficulties"),
}
# fmt: on

UNITS: dict[str, tuple[str, str, str]] = {
    "months_unemployed": ("kk", "mån", "months"),
    "sickness_absence_days_12m": ("pv", "dagar", "days"),
    "healthcare_visits_12m": ("käyntiä", "besök", "visits"),
    "complaint_duration_weeks": ("vk", "veckor", "weeks"),
}

BANDS: dict[str, tuple[str, str, str]] = {
    "poor": ("heikko", "dålig", "poor"),
    "moderate": ("kohtalainen", "måttlig", "moderate"),
    "good": ("hyvä", "god", "good"),
    "excellent": ("erinomainen", "utmärkt", "excellent"),
}

VALUES: dict[str, tuple[str, str, str]] = {
    "employed": ("työssä", "i arbete", "employed"),
    "entrepreneur": ("yrittäjä", "företagare", "entrepreneur"),
    "unemployed": ("työtön", "arbetslös", "unemployed"),
    "laid_off": ("lomautettu", "permitterad", "laid off"),
    "student": ("opiskelija", "studerande", "student"),
    "outside_labour_force": ("työvoiman ulkopuolella", "utanför arbetskraften", "outside the labour force"),
    "unknown": ("ei tiedossa", "okänt", "unknown"),
    "self": ("oma-aloitteinen", "på eget initiativ", "self"),
    "employment_services": ("TE-/työllisyyspalvelut", "TE-/sysselsättningstjänster", "employment services"),
    "kela": ("Kela", "FPA", "Kela"),
    "primary_care": ("perusterveydenhuolto", "primärvården", "primary care"),
    "specialised_care": ("erikoissairaanhoito", "specialsjukvården", "specialised care"),
    "occupational_health": ("työterveyshuolto", "företagshälsovården", "occupational health"),
    "social_services": ("sosiaalipalvelut", "socialtjänsten", "social services"),
    "ngo": ("järjestö", "organisation", "NGO"),
    "other": ("muu", "annan", "other"),
    "new_client": ("uusi asiakas", "ny klient", "new client"),
    "outside_services": ("palvelujen ulkopuolelta", "utanför tjänsterna", "outside services"),
    "in_services": ("palveluissa jo", "redan i tjänster", "already in services"),
    "yes": ("kyllä", "ja", "yes"),
    "no": ("ei", "nej", "no"),
    "missing": ("ei kysytty", "inte frågat", "not asked"),
}  # fmt: skip

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


def _value_text(field: str, value: Any, lang: int) -> str:
    if value is None:
        return VALUES["missing"][lang]
    if field == "work_ability_score":
        band = WORK_ABILITY_BANDS[
            min(3, 0 if value <= 5 else 1 if value <= 7 else 2 if value < 10 else 3)
        ]
        return f"{value}/10 ({BANDS[band][lang]})"
    if isinstance(value, bool):
        return VALUES["yes" if value else "no"][lang]
    if field in UNITS:
        return f"{value} {UNITS[field][lang]}"
    text = str(value)
    return VALUES[text][lang] if text in VALUES else text


def reasons(
    contributions: dict[str, float], record: dict[str, Any], language: str, top: int
) -> list[dict[str, Any]]:
    """The ``top`` largest contributions, signed, with a sentence in ``language``."""
    lang = LANGUAGES.index(language)
    ranked = sorted(contributions.items(), key=lambda item: abs(item[1]), reverse=True)[:top]
    out = []
    for field, contribution in ranked:
        label = LABELS.get(field, (field, field, field))[lang]
        value = record.get(field)
        direction = RAISES if contribution > 0 else LOWERS
        value_text = _value_text(field, value, lang)
        out.append(
            {
                "field": field,
                "value": value,
                "contribution": round(contribution, 4),
                "direction": "raises" if contribution > 0 else "lowers",
                "text": f"{label} {value_text} {direction[lang]}",
            }
        )
    return out
