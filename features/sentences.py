"""What the front desk reads: one sentence pattern per model feature and language.

A reason is a fact about the booking, said as a whole clause the way a native speaker at a Finnish
front desk would say it (numbers with the singular after 1 and the plural, or the Finnish partitive,
otherwise), followed by what it does to the *likelihood* of a support need: the model knows that a
factor makes a need more or less likely, never that it causes one. A question that was not asked is
never a reason: it is listed apart ("not asked: ..."), so that staff can ask it.

Terms follow ../shared/GLOSSARY.md (docs/glossary.md names each source); ICPC-2 chapters are named as
THL's code server names them. ``docs/reasons-{fi,sv,en}.md`` are generated from this module (a test
checks they are current).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from features.spec import spec, work_ability_band
from features.texts import Text

LIKELIER = Text(
    "mikä lisää tuen tarpeen todennäköisyyttä",
    "vilket gör ett stödbehov mer sannolikt",
    "which makes a support need more likely",
)
LESS_LIKELY = Text(
    "mikä vähentää tuen tarpeen todennäköisyyttä",
    "vilket gör ett stödbehov mindre sannolikt",
    "which makes a support need less likely",
)
NOT_ASKED_HEADING = Text("Ei kysytty", "Inte frågat", "Not asked")
NOT_RECORDED_HEADING = Text("Ei kirjattu", "Inte registrerat", "Not recorded")


@dataclass(frozen=True)
class Count:
    """A counted word in one pattern: Finnish 1 + nominative or accusative, else partitive."""

    one: Text
    many: Text

    def __call__(self, n: int, language: str) -> str:
        return f"{n} {(self.one if n == 1 else self.many)[language]}"


# fmt: off
_EMPLOYMENT: dict[str, Text] = {
    "employed": Text("Asiakas on työssä", "Klienten är i arbete", "The client is employed"),
    "entrepreneur": Text("Asiakas on yrittäjä", "Klienten är företagare", "The client is self-employed"),
    "unemployed": Text("Asiakas on työtön", "Klienten är arbetslös", "The client is unemployed"),
    "laid_off": Text("Asiakas on lomautettu", "Klienten är permitterad", "The client is temporarily laid off"),
    "student": Text("Asiakas on opiskelija", "Klienten är studerande", "The client is a student"),
    "outside_labour_force": Text("Asiakas on työvoiman ulkopuolella", "Klienten står utanför arbetskraften", "The client is outside the labour force"),
    "unknown": Text("Asiakkaan työtilanne ei ole tiedossa", "Klientens arbetssituation är inte känd", "The client's employment status is not known"),
}
_REFERRAL: dict[str, Text] = {
    "self": Text("Asiakas hakeutui palveluun itse", "Klienten sökte sig till tjänsten på eget initiativ", "The client came on their own initiative"),
    "employment_services": Text("Asiakas ohjattiin työllisyyspalveluista", "Klienten hänvisades av sysselsättningstjänsterna", "The client was referred by employment services"),
    "kela": Text("Asiakas ohjattiin Kelasta", "Klienten hänvisades av FPA", "The client was referred by Kela"),
    "primary_care": Text("Asiakas ohjattiin perusterveydenhuollosta", "Klienten hänvisades av primärvården", "The client was referred by primary health care"),
    "specialised_care": Text("Asiakas ohjattiin erikoissairaanhoidosta", "Klienten hänvisades av den specialiserade sjukvården", "The client was referred by specialised medical care"),
    "occupational_health": Text("Asiakas ohjattiin työterveyshuollosta", "Klienten hänvisades av företagshälsovården", "The client was referred by occupational health care"),
    "social_services": Text("Asiakas ohjattiin sosiaalipalveluista", "Klienten hänvisades av socialservicen", "The client was referred by social services"),
    "ngo": Text("Asiakas ohjattiin järjestöstä", "Klienten hänvisades av en organisation", "The client was referred by an NGO"),
    "pension_insurer": Text("Asiakas ohjattiin työeläkevakuuttajalta", "Klienten hänvisades av en arbetspensionsförsäkrare", "The client was referred by an earnings-related pension provider"),
    "criminal_sanctions": Text("Asiakas ohjattiin Rikosseuraamuslaitokselta", "Klienten hänvisades av Brottspåföljdsmyndigheten", "The client was referred by the Criminal Sanctions Agency"),
    "youth_services": Text("Asiakas ohjattiin nuorten palveluista", "Klienten hänvisades av tjänsterna för unga", "The client was referred by youth services"),
    "education": Text("Asiakas ohjattiin oppilaitoksesta", "Klienten hänvisades av en läroanstalt", "The client was referred by an educational institution"),
    "other": Text("Asiakkaan ohjasi muu taho", "Klienten hänvisades av någon annan aktör", "The client was referred by another party"),
}
_CLIENT_GROUP: dict[str, Text] = {
    "new_client": Text("Asiakas on uusi", "Klienten är ny", "The client is new to the services"),
    "outside_services": Text("Asiakas tavoitettiin palvelujen ulkopuolelta", "Klienten nåddes utanför tjänsterna", "The client was reached outside the services"),
    "in_services": Text("Asiakas on jo palvelujen piirissä", "Klienten har redan kontakt med tjänsterna", "The client is already in the services"),
}
_CONCERNS: dict[str, tuple[Text, Text]] = {
    "mental_health_concern": (
        Text("Asiakkaan mielenterveydestä on herännyt huoli", "Det har framkommit oro för klientens psykiska hälsa", "There is a concern about the client's mental health"),
        Text("Asiakkaan mielenterveydestä ei ole herännyt huolta", "Det har inte framkommit någon oro för klientens psykiska hälsa", "No concern about the client's mental health has been noted"),
    ),
    "substance_use_concern": (
        Text("Asiakkaan päihteiden käytöstä on herännyt huoli", "Det har framkommit oro för klientens rusmedelsbruk", "There is a concern about the client's substance use"),
        Text("Asiakkaan päihteiden käytöstä ei ole herännyt huolta", "Det har inte framkommit någon oro för klientens rusmedelsbruk", "No concern about the client's substance use has been noted"),
    ),
    "financial_difficulties": (
        Text("Asiakkaalla on taloudellisia vaikeuksia tai velkoja", "Klienten har ekonomiska svårigheter eller skulder", "The client has financial difficulties or debts"),
        Text("Asiakkaalla ei tiettävästi ole taloudellisia vaikeuksia", "Klienten har inga kända ekonomiska svårigheter", "The client has no known financial difficulties"),
    ),
}
#: ICPC-2 chapter names as THL's code server has them (Finnish, Swedish) and WONCA's English ones.
ICPC2_CHAPTERS: dict[str, Text] = {
    "A": Text("Yleiset ja epämääräiset", "Generella och ospecifika", "General and unspecified"),
    "B": Text("Veri, vertamuodostavat elimet ja immuunijärjestelmä", "Blod och blodbildande organ samt immunsystemet", "Blood, blood forming organs and immune mechanism"),
    "D": Text("Ruoansulatuselimet", "Matsmältningsorganen", "Digestive"),
    "F": Text("Silmä", "Öga", "Eye"),
    "H": Text("Korva", "Öra", "Ear"),
    "K": Text("Verenkiertoelimet", "Cirkulationsorganen", "Cardiovascular"),
    "L": Text("Tuki- ja liikuntaelimet", "Muskuloskeletala systemet", "Musculoskeletal"),
    "N": Text("Hermosto", "Nervsystemet", "Neurological"),
    "P": Text("Mielenterveys", "Psykiska", "Psychological"),
    "R": Text("Hengityselimet", "Andningsorganen", "Respiratory"),
    "S": Text("Iho", "Hud", "Skin"),
    "T": Text("Aineenvaihdunta, umpieritys ja ravitsemus", "Inre sekretion, ämnesomsättning och nutrition", "Endocrine, metabolic and nutritional"),
    "U": Text("Virtsaelimet", "Urinorganen", "Urological"),
    "W": Text("Raskaus, synnytys ja perhesuunnittelu", "Graviditet, förlossning och familjeplanering", "Pregnancy, childbearing, family planning"),
    "X": Text("Naisen sukuelimet", "Kvinnliga könsorganen", "Female genital"),
    "Y": Text("Miehen sukuelimet", "Manliga könsorganen", "Male genital"),
    "Z": Text("Sosiaaliset ongelmat", "Sociala problem", "Social problems"),
}
_MONTHS = Count(Text("kuukauden", "månad", "month"), Text("kuukautta", "månader", "months"))
_DAYS = Count(Text("päivä", "dag", "day"), Text("päivää", "dagar", "days"))
_WEEKS = Count(Text("viikon", "vecka", "week"), Text("viikkoa", "veckor", "weeks"))
_TIMES = Count(Text("kerran", "gång", "time"), Text("kertaa", "gånger", "times"))
# fmt: on


def _quoted(text: str, language: str) -> str:
    return f"”{text}”" if language in ("fi", "sv") else f'"{text}"'


def _chapter(value: object, language: str) -> str:
    folded = spec("contact_reason").fold
    if str(value) in folded:
        members = [c for c, into in folded.items() if into == folded[str(value)]]
        names = [_quoted(ICPC2_CHAPTERS[c][language], language) for c in members]
        joined = ", ".join(names[:-1]) + {"fi": " tai ", "sv": " eller ", "en": " or "}[language]
        joined += names[-1]
        return {
            "fi": f"Yhteydenoton syyn ICPC-2-luku on jokin luvuista {joined}",
            "sv": f"Kontaktorsaken hör till ett av ICPC-2-kapitlen {joined}",
            "en": f"The reason for contact is in one of the ICPC-2 chapters {joined}",
        }[language]
    name = _quoted(ICPC2_CHAPTERS[str(value)][language], language)
    return {
        "fi": f"Yhteydenoton syyn ICPC-2-luku on {name}",
        "sv": f"Kontaktorsaken hör till ICPC-2-kapitlet {name}",
        "en": f"The reason for contact is in ICPC-2 chapter {name}",
    }[language]


def _months_unemployed(n: int, language: str) -> str:
    if n == 0:
        return Text(
            # 0 is recorded both when working, studying or outside the labour force and in the
            # first month of unemployment or lay-off: "not unemployed" would contradict "unemployed".
            "Asiakas ei ole ollut työttömänä täyttä kuukautta",
            "Klienten har inte varit arbetslös i en hel månad",
            "The client has not been unemployed for a full month",
        )[language]
    months = _MONTHS(n, language)
    return Text(
        f"Työttömyys on kestänyt {months}",
        f"Arbetslösheten har varat i {months}",
        f"Unemployment has lasted {months}",
    )[language]


def _sickness_absence(n: int, language: str) -> str:
    if n == 0:
        return Text(
            "Asiakkaalla ei ole ollut sairauspoissaoloa viimeisen 12 kuukauden aikana",
            "Klienten har inte varit sjukfrånvarande under de senaste 12 månaderna",
            "The client has had no sickness absence in the last 12 months",
        )[language]
    days = _DAYS(n, language)
    return Text(
        f"Asiakkaalla on ollut viimeisen 12 kuukauden aikana sairauspoissaoloa {days}",
        f"Klienten har varit sjukfrånvarande {days} under de senaste 12 månaderna",
        f"The client has had {days} of sickness absence in the last 12 months",
    )[language]


def _visits(n: int, language: str) -> str:
    if n == 0:
        return Text(
            "Asiakas ei ole käynyt terveyskeskuksessa viimeisen 12 kuukauden aikana",
            "Klienten har inte besökt hälsocentralen under de senaste 12 månaderna",
            "The client has not visited the health centre in the last 12 months",
        )[language]
    # "kerran" / "en gång" / "once" read better than with the numeral.
    once = Text("kerran", "en gång", "once")
    times = once[language] if n == 1 else _TIMES(n, language)
    return Text(
        f"Asiakas on käynyt terveyskeskuksessa viimeisen 12 kuukauden aikana {times}",
        f"Klienten har besökt hälsocentralen {times} under de senaste 12 månaderna",
        f"The client has visited the health centre {times} in the last 12 months",
    )[language]


def _complaint(n: int, language: str) -> str:
    if n == 0:
        return Text(
            "Vaiva on alkanut alle viikko sitten",
            "Besväret började för mindre än en vecka sedan",
            "The complaint began less than a week ago",
        )[language]
    weeks = _WEEKS(n, language)
    return Text(
        f"Vaiva on kestänyt {weeks}",
        f"Besväret har pågått i {weeks}",
        f"The complaint has lasted {weeks}",
    )[language]


def _work_ability(n: int, language: str) -> str:
    band = spec("work_ability_band").value_texts[work_ability_band(n)][language]
    return Text(
        f"Asiakkaan itse arvioima työkyky on {n}/10 ({band})",
        f"Klientens självskattade arbetsförmåga är {n}/10 ({band})",
        f"The client rates their work ability {n}/10 ({band})",
    )[language]


def _from_table(table: dict[str, Text]) -> Callable[[object, str], str]:
    return lambda value, language: table[str(value)][language]


def _concern(name: str) -> Callable[[object, str], str]:
    present, absent = _CONCERNS[name]
    return lambda value, language: (present if value else absent)[language]


def _number(pattern: Callable[[int, str], str]) -> Callable[[object, str], str]:
    return lambda value, language: pattern(int(value), language)  # type: ignore[call-overload]


#: The fact clause of each model feature (contract field), given a present value.
FACTS: dict[str, Callable[[object, str], str]] = {
    "employment_status": _from_table(_EMPLOYMENT),
    "months_unemployed": _number(_months_unemployed),
    "sickness_absence_days_12m": _number(_sickness_absence),
    "healthcare_visits_12m": _number(_visits),
    "contact_reason": _chapter,
    "complaint_duration_weeks": _number(_complaint),
    "work_ability_score": _number(_work_ability),
    "referral_source": _from_table(_REFERRAL),
    "client_group": _from_table(_CLIENT_GROUP),
    "mental_health_concern": _concern("mental_health_concern"),
    "substance_use_concern": _concern("substance_use_concern"),
    "financial_difficulties": _concern("financial_difficulties"),
}


def fact(field: str, value: object, language: str) -> str:
    """The booking's fact about ``field`` as a clause (``value`` must be present)."""
    if value is None:
        raise ValueError(f"{field}: a missing value is not a fact (list it as not asked)")
    return FACTS[field](value, language)


def reason_sentence(field: str, value: object, raises: bool, language: str) -> str:
    """The fact, then what it does to the likelihood of a support need."""
    likelihood = (LIKELIER if raises else LESS_LIKELY)[language]
    return f"{fact(field, value, language)}, {likelihood}."


def unanswered_heading(field: str, language: str) -> str:
    """ "Not asked" or "not recorded", as the contract says a missing value of ``field`` means."""
    missing = spec(field).value_texts.get("missing")
    asked = missing is not None and missing.en == "not asked"
    return (NOT_ASKED_HEADING if asked else NOT_RECORDED_HEADING)[language]
