"""Every sentence the front desk reads: one per feature, kind of value and language; singular and
plural; likelihood, not cause; unanswered questions never a reason; no English in fi or sv."""

from __future__ import annotations

import re

import pytest

from data_contracts.contract import MODEL_FEATURES
from features.sentences import fact, reason_sentence
from features.spec import LANGUAGES
from kykytutka.texts import example_values
from models.services import SERVICE_STEPS, SUPPORT_LEVEL_TEXTS, service_path
from serving.explain import reasons, unanswered
from training.naming import ACTIVITIES, SITUATIONS

pytestmark = [pytest.mark.data]


def _every_sentence(language: str) -> list[str]:
    out = [
        reason_sentence(field, value, raises, language)
        for field in MODEL_FEATURES
        for value in example_values(field)
        for raises in (True, False)
    ]
    out += [text[language] for text in SUPPORT_LEVEL_TEXTS.values()]
    out += [step.text[language] for step in SERVICE_STEPS.values()]
    out += [text[language] for text, _ in [*ACTIVITIES.values(), *SITUATIONS.values()]]
    return out


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("field", MODEL_FEATURES)
def test_every_field_and_kind_of_value_yields_a_sentence(field: str, language: str) -> None:
    for value in example_values(field):
        for raises in (True, False):
            sentence = reason_sentence(field, value, raises, language)
            assert sentence[0].isupper() and sentence.endswith("."), sentence
            assert "_" not in sentence and "None" not in sentence, sentence


@pytest.mark.parametrize(
    ("field", "value", "language", "expected"),
    [
        ("sickness_absence_days_12m", 120, "fi", "Asiakkaalla on ollut viimeisen 12 kuukauden aikana sairauspoissaoloa 120 päivää"),
        ("sickness_absence_days_12m", 1, "fi", "Asiakkaalla on ollut viimeisen 12 kuukauden aikana sairauspoissaoloa 1 päivä"),
        ("sickness_absence_days_12m", 1, "sv", "Klienten har varit sjukfrånvarande 1 dag under de senaste 12 månaderna"),
        ("sickness_absence_days_12m", 1, "en", "The client has had 1 day of sickness absence in the last 12 months"),
        ("healthcare_visits_12m", 1, "fi", "Asiakas on käynyt terveyskeskuksessa viimeisen 12 kuukauden aikana kerran"),
        ("healthcare_visits_12m", 3, "fi", "Asiakas on käynyt terveyskeskuksessa viimeisen 12 kuukauden aikana 3 kertaa"),
        ("healthcare_visits_12m", 1, "en", "The client has visited the health centre once in the last 12 months"),
        ("complaint_duration_weeks", 1, "sv", "Besväret har pågått i 1 vecka"),
        ("complaint_duration_weeks", 1, "fi", "Vaiva on kestänyt 1 viikon"),
        ("complaint_duration_weeks", 14, "fi", "Vaiva on kestänyt 14 viikkoa"),
        ("months_unemployed", 1, "en", "Unemployment has lasted 1 month"),
        ("months_unemployed", 30, "sv", "Arbetslösheten har varat i 30 månader"),
        ("work_ability_score", 3, "fi", "Asiakkaan itse arvioima työkyky on 3/10 (huono)"),
        ("contact_reason", "P", "fi", "Yhteydenoton syyn ICPC-2-luku on ”Mielenterveys”"),
        ("referral_source", "self", "sv", "Klienten sökte sig till tjänsten på eget initiativ"),
        ("employment_status", "unemployed", "fi", "Asiakas on työtön"),
    ],
)  # fmt: skip
def test_facts_read_as_a_native_speaker_says_them(
    field: str, value: object, language: str, expected: str
) -> None:
    assert fact(field, value, language) == expected


def test_a_reason_states_likelihood_not_cause() -> None:
    assert reason_sentence("work_ability_score", 3, True, "fi").endswith(
        ", mikä lisää tuen tarpeen todennäköisyyttä."
    )
    assert reason_sentence("work_ability_score", 9, False, "sv").endswith(
        ", vilket gör ett stödbehov mindre sannolikt."
    )
    for language in LANGUAGES:
        for sentence in _every_sentence(language):
            assert not re.search(r"nostaa|laskee|höjer|sänker|raises|lowers", sentence), sentence


def test_an_unasked_question_is_never_a_reason_but_listed_apart() -> None:
    record = {name: None for name in MODEL_FEATURES} | {
        "employment_status": "unemployed",
        "months_unemployed": 30,
        "referral_source": "self",
        "client_group": "new_client",
    }
    contributions = {name: 0.5 for name in MODEL_FEATURES}
    shown = reasons(contributions, record, "en", top=10)
    assert {r["field"] for r in shown} == {
        "employment_status",
        "months_unemployed",
        "referral_source",
        "client_group",
    }
    listed = {item["field"]: item for item in unanswered(record, "en")}
    assert listed["work_ability_score"] == {
        "field": "work_ability_score",
        "heading": "Not asked",
        "text": "Self-rated work ability",
    }
    assert listed["sickness_absence_days_12m"]["heading"] == "Not recorded"
    assert unanswered(record, "fi")[0]["heading"] in ("Ei kysytty", "Ei kirjattu")


#: Words an English text of ours uses that may also stand in a Finnish or Swedish one.
SHARED = {"kela", "icpc", "2", "10", "0", "1", "12", "3", "5", "6", "7", "8", "fpa"}


@pytest.mark.parametrize("language", ["fi", "sv"])
def test_no_english_word_in_finnish_or_swedish_output(language: str) -> None:
    def words(texts: list[str]) -> set[str]:
        return {w for t in texts for w in re.findall(r"[a-zåäö0-9]+", t.lower())}

    english = words(_every_sentence("en")) - SHARED
    own = words(_every_sentence(language))
    # "on" is Finnish for "is"; "i" is a Swedish preposition; "team" and "plan" are Swedish words
    # too (team för stöd för arbetsförmågan, plan för att stödja arbetsförmågan: GLOSSARY.md).
    allowed = {"fi": {"on"}, "sv": {"i", "team", "plan"}}[language]
    assert (own & english) - allowed == set()


def test_service_paths_without_consent_ask_for_it_and_share_nothing() -> None:
    steps = ["network_consultation", "initial_service", "employment_services", "debt_counselling"]
    assert service_path(steps, True, "en") == [SERVICE_STEPS[s].text.en for s in steps]
    without = service_path(steps, False, "fi")
    assert without[0] == "Kysy asiakkaalta suostumus monialaiseen yhteistyöhön"
    assert "Konsultaatio ammattilaisverkostolle" not in without
    assert "Talous- ja velkaneuvonta" in without
    assert service_path(["guidance"], False, "sv") == ["Rådgivning och handledning för egenvård"]
