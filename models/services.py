"""The support levels and service steps staff read, in Finnish, Swedish and English.

The steps come from the service catalogue of seed 002 and the services clients were steered to in
seed 003 (DOMAIN.md); their names follow ../shared/GLOSSARY.md. A step that shares the client's data
with another organisation (the professional network, the work-ability support team, employment
services, the employer's occupational health) needs the client's consent to multi-agency work
(DOMAIN.md: consent is the starting point); without it the path asks for consent instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.texts import Text

#: The recommended levels, lightest first; "none": no work-ability support need is indicated.
SUPPORT_LEVEL_TEXTS: dict[str, Text] = {
    "none": Text("Ei viitteitä työkyvyn tuen tarpeesta", "Inga tecken på behov av stöd för arbetsförmågan", "No sign of a work-ability support need"),
    "self_care": Text("Omahoito", "Egenvård", "Self-care"),
    "consultation": Text("Konsultaatio", "Konsultation", "Consultation"),
    "team": Text("Työkyvyn tuen tiimi", "Team för stöd för arbetsförmågan", "Work-ability support team"),
}  # fmt: skip


@dataclass(frozen=True)
class ServiceStep:
    text: Text
    #: shares the client's data with another organisation: needs consent to multi-agency work
    needs_consent: bool = False


# fmt: off
SERVICE_STEPS: dict[str, ServiceStep] = {
    "team": ServiceStep(Text("Työkyvyn tuen tiimi: työkyvyn tuen suunnitelma ja asiakasvastaava", "Team för stöd för arbetsförmågan: plan för att stödja arbetsförmågan och klientansvarig", "Work-ability support team: a work-ability support plan and a named key worker"), needs_consent=True),
    "network_consultation": ServiceStep(Text("Konsultaatio ammattilaisverkostolle", "Konsultation med det professionella nätverket", "Consultation of the professional network"), needs_consent=True),
    "initial_service": ServiceStep(Text("Alkupalvelu: tuen tarpeen arviointi ja tilannekartoitus", "Inledande tjänst: bedömning av stödbehovet och kartläggning av situationen", "Initial service: support-need assessment and a map of the client's situation")),
    "health_check": ServiceStep(Text("Työttömän terveystarkastus", "Hälsoundersökning för arbetslösa", "Health check for the unemployed")),
    "vocational_rehabilitation_assessment": ServiceStep(Text("Ammatillisen kuntoutuksen tarpeen arviointi", "Bedömning av behovet av yrkesinriktad rehabilitering", "Assessment of the need for vocational rehabilitation")),
    "rehabilitative_work_activity": ServiceStep(Text("Kuntouttava työtoiminta", "Arbetsverksamhet i rehabiliteringssyfte", "Rehabilitative work activity")),
    "employment_services": ServiceStep(Text("Ohjaus työllisyyspalveluihin", "Hänvisning till sysselsättningstjänsterna", "Guidance to employment services"), needs_consent=True),
    "job_coaching": ServiceStep(Text("Työhönvalmennus", "Jobbcoachning", "Job coaching"), needs_consent=True),
    "work_trial": ServiceStep(Text("Työkokeilu", "Arbetsprövning", "Work trial"), needs_consent=True),
    "occupational_health_negotiation": ServiceStep(Text("Työterveysneuvottelu", "Förhandling om arbetsförmågan", "Occupational-health negotiation"), needs_consent=True),
    "workplace_adjustment": ServiceStep(Text("Työn muokkaus", "Anpassning av arbetet", "Workplace adjustments"), needs_consent=True),
    "medical_rehabilitation": ServiceStep(Text("Lääkinnällinen kuntoutus", "Medicinsk rehabilitering", "Medical rehabilitation")),
    "basic_medical_care": ServiceStep(Text("Perusterveydenhuollon vastaanotto", "Mottagning inom primärvården", "Primary health care appointment")),
    "physiotherapy": ServiceStep(Text("Fysioterapeutti", "Fysioterapeut", "Physiotherapist")),
    "guidance": ServiceStep(Text("Ohjaus ja neuvonta omahoitoon", "Rådgivning och handledning för egenvård", "Guidance and advice for self-care")),
    "mental_health_substance_services": ServiceStep(Text("Mielenterveys- tai päihdepalvelut", "Mentalvårdstjänster eller missbrukar- och beroendevård", "Mental health or substance use services")),
    "debt_counselling": ServiceStep(Text("Talous- ja velkaneuvonta", "Ekonomi- och skuldrådgivning", "Financial and debt counselling")),
    "social_work": ServiceStep(Text("Sosiaalityö", "Socialt arbete", "Social work")),
    "education_guidance": ServiceStep(Text("Opinto- ja uraohjaus", "Studie- och karriärvägledning", "Study and career guidance")),
}
ASK_CONSENT = Text("Kysy asiakkaalta suostumus monialaiseen yhteistyöhön", "Fråga klienten om samtycke till sektorsövergripande samarbete", "Ask the client's consent to multi-agency work")
# fmt: on


def service_path(steps: list[str], consented: bool, language: str) -> list[str]:
    """The steps as staff read them; without consent the steps that share data with another
    organisation are left out and asking for consent comes first."""
    if consented:
        return [SERVICE_STEPS[step].text[language] for step in steps]
    kept = [
        SERVICE_STEPS[step].text[language]
        for step in steps
        if not SERVICE_STEPS[step].needs_consent
    ]
    dropped = len(kept) < len(steps)
    return ([ASK_CONSENT[language]] if dropped else []) + kept
