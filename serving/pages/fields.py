"""The front desk's booking form, generated from the contract: one input per booking-record
field, its label and choices in the reader's language, and the form read back into a record.

Labels and category names of model features come from the feature specification; the few fields
that are no model input (identifiers, time, the protected attributes kept for fairness
monitoring, region, municipality, consent) are named here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from data_contracts.contract import BOOKING_COLUMNS, FIELDS_BY_NAME, ContractField
from features.spec import label
from features.texts import CATEGORY_TEXTS, NO, NOT_ASKED, NOT_CLASSIFIED, NOT_RECORDED, YES, Text

# fmt: off
LABELS: dict[str, Text] = {
    "client_ref": Text("Asiakkaan pseudonyymi tunniste", "Klientens pseudonyma referens", "Client's pseudonymous reference"),
    "booking_id": Text("Ajanvarauksen tunniste", "Tidsbokningens id", "Booking id"),
    "booking_time": Text("Ajanvarauksen tekoaika (UTC)", "Tidpunkt för tidsbokningen (UTC)", "Time of booking (UTC)"),
    "age": Text("Ikä", "Ålder", "Age"),
    "sex": Text("Sukupuoli", "Kön", "Sex"),
    "first_language": Text("Äidinkieli", "Modersmål", "First language"),
    "region": Text("Hyvinvointialue", "Välfärdsområde", "Wellbeing services county"),
    "municipality": Text("Kotikunnan numero", "Hemkommunens nummer", "Home municipality code"),
    "consent_multi_agency": Text("Suostumus monialaiseen yhteistyöhön", "Samtycke till sektorsövergripande samarbete", "Consent to multi-agency work"),
}
HINTS: dict[str, Text] = {
    "client_ref": Text("Ei henkilötunnusta. 8–64 merkkiä: kirjaimia, numeroita tai _ . : -", "Ingen personbeteckning. 8–64 tecken: bokstäver, siffror eller _ . : -", "No personal identity code. 8–64 characters: letters, digits or _ . : -"),
    "municipality": Text("Kolme numeroa, esim. 837", "Tre siffror, t.ex. 837", "Three digits, e.g. 837"),
    "work_ability_score": Text("0–10, asiakkaan oma arvio", "0–10, klientens egen bedömning", "0–10, the client's own rating"),
}
CHOICE_TEXTS: dict[str, dict[str, Text]] = {
    **CATEGORY_TEXTS,
    "sex": {"female": Text("nainen", "kvinna", "female"), "male": Text("mies", "man", "male"),
            "other": Text("muu", "annat", "other"), "unknown": Text("ei tiedossa", "okänt", "unknown")},
    "first_language": {"fi": Text("suomi", "finska", "Finnish"), "sv": Text("ruotsi", "svenska", "Swedish"),
                       "other": Text("muu", "annat", "other")},
    "region": {
        "helsinki": Text("Helsingin kaupunki", "Helsingfors stad", "City of Helsinki"),
        "ita-uusimaa": Text("Itä-Uusimaa", "Östra Nyland", "Eastern Uusimaa"),
        "keski-uusimaa": Text("Keski-Uusimaa", "Mellersta Nyland", "Central Uusimaa"),
        "lansi-uusimaa": Text("Länsi-Uusimaa", "Västra Nyland", "Western Uusimaa"),
        "vantaa-kerava": Text("Vantaa ja Kerava", "Vanda och Kervo", "Vantaa and Kerava"),
        "varsinais-suomi": Text("Varsinais-Suomi", "Egentliga Finland", "Southwest Finland"),
        "satakunta": Text("Satakunta", "Satakunta", "Satakunta"),
        "kanta-hame": Text("Kanta-Häme", "Egentliga Tavastland", "Kanta-Häme"),
        "pirkanmaa": Text("Pirkanmaa", "Birkaland", "Pirkanmaa"),
        "paijat-hame": Text("Päijät-Häme", "Päijänne-Tavastland", "Päijät-Häme"),
        "kymenlaakso": Text("Kymenlaakso", "Kymmenedalen", "Kymenlaakso"),
        "etela-karjala": Text("Etelä-Karjala", "Södra Karelen", "South Karelia"),
        "etela-savo": Text("Etelä-Savo", "Södra Savolax", "South Savo"),
        "pohjois-savo": Text("Pohjois-Savo", "Norra Savolax", "North Savo"),
        "pohjois-karjala": Text("Pohjois-Karjala", "Norra Karelen", "North Karelia"),
        "keski-suomi": Text("Keski-Suomi", "Mellersta Finland", "Central Finland"),
        "etela-pohjanmaa": Text("Etelä-Pohjanmaa", "Södra Österbotten", "South Ostrobothnia"),
        "pohjanmaa": Text("Pohjanmaa", "Österbotten", "Ostrobothnia"),
        "keski-pohjanmaa": Text("Keski-Pohjanmaa", "Mellersta Österbotten", "Central Ostrobothnia"),
        "pohjois-pohjanmaa": Text("Pohjois-Pohjanmaa", "Norra Österbotten", "North Ostrobothnia"),
        "kainuu": Text("Kainuu", "Kajanaland", "Kainuu"),
        "lappi": Text("Lappi", "Lappland", "Lapland"),
    },
}
# fmt: on
#: what a field left empty means, by the contract's "missing" note
MISSING_TEXTS = {"not asked": NOT_ASKED, "not recorded": NOT_RECORDED}
MISSING_TEXTS["not classified at booking"] = NOT_CLASSIFIED
#: the value the form sends for "not asked" (a choice of its own, never an empty default)
MISSING = "-"


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # text, number, select
    required: bool
    choices: list[tuple[str, str]]  # (value, text); for select
    hint: str
    minimum: float | None
    maximum: float | None


def field_label(name: str, language: str) -> str:
    return LABELS[name][language] if name in LABELS else label(name, language)


def value_label(name: str, value: Any, language: str) -> str:
    """A stored input value as people read it (categories and yes/no named)."""
    if value is None:
        missing = FIELDS_BY_NAME[name].missing
        return MISSING_TEXTS[missing][language] if missing in MISSING_TEXTS else "–"
    if isinstance(value, bool):
        return (YES if value else NO)[language]
    texts = CHOICE_TEXTS.get(name, {})
    return texts[str(value)][language] if str(value) in texts else str(value)


def form_fields(language: str) -> list[FormField]:
    return [_form_field(FIELDS_BY_NAME[name], language) for name in BOOKING_COLUMNS]


def _form_field(field: ContractField, language: str) -> FormField:
    choices: list[tuple[str, str]] = []
    if field.kind == "category":
        choices = [(c, value_label(field.name, c, language)) for c in field.categories or ()]
    elif field.kind == "boolean":
        choices = [("true", YES[language]), ("false", NO[language])]
    if field.nullable and choices:
        choices.append((MISSING, value_label(field.name, None, language)))
    kind = "select" if choices else ("number" if field.kind in ("integer", "number") else "text")
    hint = HINTS[field.name][language] if field.name in HINTS else ""
    if field.nullable and not choices:
        hint = (hint + " " if hint else "") + f"({_empty_means(field, language)})"
    return FormField(
        field.name, field_label(field.name, language), kind, not field.nullable, choices, hint,
        field.minimum, field.maximum,
    )  # fmt: skip


def _empty_means(field: ContractField, language: str) -> str:
    empty = {"fi": "tyhjä = {}", "sv": "tomt = {}", "en": "blank = {}"}[language]
    return empty.format(value_label(field.name, None, language))


def read_form(form: dict[str, str]) -> dict[str, Any]:
    """The booking record a form describes, typed as the JSON API takes it ("" and "not asked"
    become null; numbers that are not whole numbers stay text, for the contract to refuse)."""
    record: dict[str, Any] = {}
    for name in BOOKING_COLUMNS:
        field = FIELDS_BY_NAME[name]
        raw = form.get(name, "")
        if raw in ("", MISSING):
            record[name] = None if field.nullable or raw == "" else raw
        elif field.kind == "integer":
            record[name] = int(raw) if re.fullmatch(r"-?[0-9]{1,11}", raw) else raw
        elif field.kind == "boolean":
            record[name] = {"true": True, "false": False}.get(raw, raw)
        else:
            record[name] = raw
    return record
