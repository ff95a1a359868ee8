"""Segment names and service paths read off each segment's profile in numbers.

A name says what is true of most of the segment's members: their main activity (working,
unemployed, on long sickness absence, studying or outside the labour force, or "other clients" when
no activity is the majority) and, where most members share it, one situation (a prolonged complaint,
psychosocial concerns, poor self-rated work ability, or a short-term complaint). Never age, sex or
language: those are protected (DOMAIN.md). Paths are step codes of ``models.services``.
"""

from __future__ import annotations

from features.spec import spec, threshold, work_ability_band
from features.texts import Text
from models.services import SERVICE_STEPS

#: A share of members at or above this is "most of them".
MOST = 0.5
#: The activities a short-term complaint is worth naming with (not unemployment, not sickness absence).
SHORT_TERM_FITS = ("working", "studying_or_outside", "other")

# fmt: off
ACTIVITIES: dict[str, tuple[Text, list[str]]] = {
    "long_term_unemployed": (Text("Pitkäaikaistyöttömät", "Långtidsarbetslösa", "Long-term unemployed"),
                             ["initial_service", "health_check", "vocational_rehabilitation_assessment", "rehabilitative_work_activity"]),
    "out_of_work": (Text("Työttömät ja lomautetut", "Arbetslösa och permitterade", "Unemployed or laid off"),
                    ["initial_service", "employment_services", "job_coaching", "work_trial"]),
    "long_sickness_absence": (Text("Pitkällä sairauslomalla olevat", "Långvarigt sjukskrivna", "On long sickness absence"),
                              ["occupational_health_negotiation", "workplace_adjustment", "medical_rehabilitation"]),
    "studying_or_outside": (Text("Opiskelijat ja työvoiman ulkopuolella olevat", "Studerande och personer utanför arbetskraften", "Students and people outside the labour force"),
                            ["guidance", "education_guidance"]),
    "working": (Text("Työssä käyvät", "Förvärvsarbetande", "Working"), ["guidance", "basic_medical_care"]),
    "other": (Text("Muut asiakkaat", "Övriga klienter", "Other clients"), ["guidance", "basic_medical_care"]),
}
# Joined to the activity after a comma: in Finnish as a relative clause ("Työssä käyvät, joilla on
# pitkittynyt vaiva"), since a bare partitive ("…, psykososiaalisia huolia") lacks its verb.
SITUATIONS: dict[str, tuple[Text, list[str]]] = {
    "psychosocial": (Text("joilla on psykososiaalisia huolia", "med psykosociala orosmoment", "with psychosocial concerns"),
                     ["mental_health_substance_services", "debt_counselling", "social_work"]),
    "prolonged_complaint": (Text("joilla on pitkittynyt vaiva", "med långvariga besvär", "with a prolonged complaint"),
                            ["basic_medical_care", "physiotherapy"]),
    "poor_work_ability": (Text("joilla on huono työkyky", "med dålig arbetsförmåga", "with poor work ability"),
                          ["vocational_rehabilitation_assessment"]),
    "short_term_complaint": (Text("joilla on lyhytaikainen vaiva", "med kortvariga besvär", "with a short-term complaint"), []),
}
# fmt: on


def main_activity(profile: dict[str, float]) -> str:
    """What most members do, checked in this order; "other" when no activity is the majority."""
    if profile["share_out_of_work"] >= MOST:
        long_term = profile["median_months_unemployed_if_out_of_work"] >= threshold(
            "very_long_term_unemployed"
        )
        return "long_term_unemployed" if long_term else "out_of_work"
    if profile["share_long_sickness_absence"] >= MOST:
        return "long_sickness_absence"
    if profile["share_studying_or_outside"] >= MOST:
        return "studying_or_outside"
    if profile["share_working"] >= MOST:
        return "working"
    return "other"


def situation(profile: dict[str, float]) -> str | None:
    """The one situation most members share, if any (the first that holds, in this order)."""
    poor = work_ability_band(profile["median_work_ability_score"]) == work_ability_band(0)
    if profile["share_psychosocial_concern"] >= MOST:
        return "psychosocial"
    if profile["share_prolonged_complaint"] >= MOST:
        return "prolonged_complaint"
    if poor:
        return "poor_work_ability"
    short = profile["median_complaint_weeks"] < spec("prolonged_complaint").threshold  # type: ignore[operator]
    return "short_term_complaint" if short else None


def name_and_path(profile: dict[str, float]) -> tuple[Text, list[str]]:
    """The segment's name in fi, sv, en and its service path (step codes, no repeats)."""
    main = main_activity(profile)
    activity, steps = ACTIVITIES[main]
    found = situation(profile)
    if found == "short_term_complaint" and main not in SHORT_TERM_FITS:
        found = None  # "long sickness absence, short-term complaint" would read as a contradiction
    if found is None:
        return activity, list(steps)
    extra, more = SITUATIONS[found]
    # Finnish joins a relative clause with a comma ("Työssä käyvät, joilla on ..."); Swedish and
    # English a preposition ("Förvärvsarbetande med ...", "Working with ...").
    name = Text(
        f"{activity.fi}, {extra.fi}", f"{activity.sv} {extra.sv}", f"{activity.en} {extra.en}"
    )
    path = list(dict.fromkeys([*steps, *more]))
    assert all(step in SERVICE_STEPS for step in path)
    return name, path
