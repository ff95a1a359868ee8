"""What people read about the model features, in Finnish, Swedish and English: the text type, units
counted in singular and plural, and the names of the contract's categories (ICPC-2 chapters as THL's
code server has them; the terms of ../shared/GLOSSARY.md). ``features.spec`` attaches them to each
feature.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """One text in the three languages of the service."""

    fi: str
    sv: str
    en: str

    def __getitem__(self, language: str) -> str:
        return str(getattr(self, language))

    def __iter__(self) -> Iterator[str]:
        return iter((self.fi, self.sv, self.en))


@dataclass(frozen=True)
class Unit:
    """A unit as counted: 1 päivä / 12 päivää, 1 dag / 12 dagar, 1 day / 12 days."""

    one: Text
    many: Text

    def count(self, value: float, language: str) -> str:
        number = int(value) if float(value).is_integer() else value
        word = self.one if number == 1 else self.many
        return f"{number} {word[language]}"


YES = Text("kyllä", "ja", "yes")
NO = Text("ei", "nej", "no")
NOT_ASKED = Text("ei kysytty", "inte frågat", "not asked")
NOT_RECORDED = Text("ei kirjattu", "inte registrerat", "not recorded")
NOT_CLASSIFIED = Text("ei luokiteltu", "inte klassificerat", "not classified")
YES_NO = {"yes": YES, "no": NO}

MONTHS = Unit(Text("kk", "månad", "month"), Text("kk", "månader", "months"))
DAYS = Unit(Text("päivä", "dag", "day"), Text("päivää", "dagar", "days"))
WEEKS = Unit(Text("viikko", "vecka", "week"), Text("viikkoa", "veckor", "weeks"))
VISITS = Unit(Text("käynti", "besök", "visit"), Text("käyntiä", "besök", "visits"))
POINTS = Unit(Text("piste", "poäng", "point"), Text("pistettä", "poäng", "points"))


# fmt: off
CATEGORY_TEXTS: dict[str, dict[str, Text]] = {
    "employment_status": {
        "employed": Text("työssä", "i arbete", "employed"),
        "entrepreneur": Text("yrittäjä", "företagare", "self-employed"),
        "unemployed": Text("työtön", "arbetslös", "unemployed"),
        "laid_off": Text("lomautettu", "permitterad", "temporarily laid off"),
        "student": Text("opiskelija", "studerande", "student"),
        "outside_labour_force": Text("työvoiman ulkopuolella", "utanför arbetskraften", "outside the labour force"),
        "unknown": Text("ei tiedossa", "okänd", "unknown"),
    },
    "contact_reason": {
        "A": Text("yleiset ja epämääräiset", "generella och ospecifika", "general and unspecified"),
        "B": Text("veri, vertamuodostavat elimet ja immuunijärjestelmä", "blod och blodbildande organ samt immunsystemet", "blood, blood forming organs and immune mechanism"),
        "D": Text("ruoansulatuselimet", "matsmältningsorganen", "digestive"),
        "F": Text("silmä", "öga", "eye"),
        "H": Text("korva", "öra", "ear"),
        "K": Text("verenkiertoelimet", "cirkulationsorganen", "cardiovascular"),
        "L": Text("tuki- ja liikuntaelimet", "muskuloskeletala systemet", "musculoskeletal"),
        "N": Text("hermosto", "nervsystemet", "neurological"),
        "P": Text("mielenterveys", "psykiska", "psychological"),
        "R": Text("hengityselimet", "andningsorganen", "respiratory"),
        "S": Text("iho", "hud", "skin"),
        "T": Text("aineenvaihdunta, umpieritys ja ravitsemus", "inre sekretion, ämnesomsättning och nutrition", "endocrine, metabolic and nutritional"),
        "U": Text("virtsaelimet", "urinorganen", "urological"),
        "W": Text("raskaus, synnytys ja perhesuunnittelu", "graviditet, förlossning och familjeplanering", "pregnancy, childbearing, family planning"),
        "X": Text("naisen sukuelimet", "kvinnliga könsorganen", "female genital"),
        "Y": Text("miehen sukuelimet", "manliga könsorganen", "male genital"),
        "Z": Text("sosiaaliset ongelmat", "sociala problem", "social problems"),
    },
    "referral_source": {
        "self": Text("asiakas itse", "klienten själv", "on their own initiative"),
        "employment_services": Text("työllisyyspalvelut", "sysselsättningstjänsterna", "employment services"),
        "kela": Text("Kela", "FPA", "Kela"),
        "primary_care": Text("perusterveydenhuolto", "primärvården", "primary health care"),
        "specialised_care": Text("erikoissairaanhoito", "den specialiserade sjukvården", "specialised medical care"),
        "occupational_health": Text("työterveyshuolto", "företagshälsovården", "occupational health care"),
        "social_services": Text("sosiaalipalvelut", "socialservicen", "social services"),
        "ngo": Text("järjestö", "en organisation", "an NGO"),
        "pension_insurer": Text("työeläkevakuuttaja", "en arbetspensionsförsäkrare", "an earnings-related pension provider"),
        "criminal_sanctions": Text("Rikosseuraamuslaitos", "Brottspåföljdsmyndigheten", "the Criminal Sanctions Agency"),
        "youth_services": Text("nuorten palvelut", "tjänsterna för unga", "youth services"),
        "education": Text("oppilaitos", "en läroanstalt", "an educational institution"),
        "other": Text("muu taho", "någon annan", "someone else"),
    },
    "client_group": {
        "new_client": Text("uusi asiakas", "ny klient", "new client"),
        "outside_services": Text("palvelujen ulkopuolelta tavoitettu", "nådd utanför tjänsterna", "reached outside services"),
        "in_services": Text("jo palvelujen piirissä", "redan i kontakt med tjänsterna", "already a client of services"),
    },
}
# fmt: on

#: The merged W, X and Y chapters, each named in full as THL names it (not shortened or merged).
FOLDED_TEXT = Text(
    "raskaus, synnytys ja perhesuunnittelu; naisen sukuelimet tai miehen sukuelimet",
    "graviditet, förlossning och familjeplanering; kvinnliga könsorganen eller manliga könsorganen",
    "pregnancy, childbearing, family planning; female genital or male genital",
)
