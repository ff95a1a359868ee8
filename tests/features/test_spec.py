"""The feature specification is complete, is the only place a threshold lives, and speaks all three
languages with singular and plural."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from data_contracts.contract import FIELDS_BY_NAME, MODEL_FEATURES
from features import spec as feature_spec
from features import transformers
from features.spec import (
    FEATURES,
    LANGUAGES,
    NOT_ASKED_BAND,
    Text,
    check_spec,
    label,
    sources,
    value_text,
    work_ability_band,
)
from features.transformers import FEATURE_NAMES, BookingFeatures, encode_records, feature_matrix
from synthetic.cohort import generate_cohort

pytestmark = [pytest.mark.data]


def test_the_shipped_specification_is_complete() -> None:
    assert check_spec() == []


def test_every_output_column_of_booking_features_is_specified() -> None:
    frame = generate_cohort("pirkanmaa", 20, seed=1)
    assert list(BookingFeatures().fit(frame).transform(frame).columns) == [f.name for f in FEATURES]


def _replaced(name: str, **changes: object) -> tuple[feature_spec.FeatureSpec, ...]:
    return tuple(dataclasses.replace(f, **changes) if f.name == name else f for f in FEATURES)


@pytest.mark.parametrize(
    ("name", "changes", "problem"),
    [
        (
            "months_unemployed",
            {"label": Text("Työttömyyden kesto", "", "Unemployment")},
            "no label in sv",
        ),
        (
            "work_ability_band",
            {"value_texts": {"poor": Text("huono", "dålig", "poor")}},
            "no text for value moderate",
        ),
        ("sickness_absence_days_12m", {"unit": None}, "a count without a unit"),
        ("long_term_unemployed", {"monotone": 2}, "monotone direction 2"),
        ("out_of_work", {"field": "sex"}, "source sex is not a contract model feature"),
        ("prolonged_situations", {"parts": ("long_term_unemployed", "nonsense")}, "part nonsense"),
        ("work_ability_band", {"edges": (6.0, 8.0)}, "2 edges for 4 bands"),
    ],
)
def test_a_specification_lacking_anything_is_caught(
    name: str, changes: dict[str, object], problem: str
) -> None:
    problems = check_spec(_replaced(name, **changes))
    assert any(problem in p for p in problems), problems


def test_a_contract_feature_without_a_spec_is_caught() -> None:
    fewer = tuple(f for f in FEATURES if f.name != "client_group")
    assert "model feature client_group has no recorded FeatureSpec" in check_spec(fewer)


def test_a_threshold_changed_in_the_specification_changes_the_features(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No second copy of a threshold: the transformer reads it from the specification."""
    record = {name: None for name in MODEL_FEATURES} | {
        "employment_status": "unemployed",
        "months_unemployed": 8,
        "referral_source": "self",
        "client_group": "new_client",
    }
    column = FEATURE_NAMES.index("long_term_unemployed")
    assert feature_matrix(encode_records([record]))[0, column] == 0.0  # 8 < 12 months
    monkeypatch.setattr(transformers, "FEATURES", _replaced("long_term_unemployed", threshold=6))
    assert feature_matrix(encode_records([record]))[0, column] == 1.0


@pytest.mark.parametrize(
    ("score", "band"),
    [(0, "poor"), (5, "poor"), (6, "moderate"), (7, "moderate"), (8, "good"), (9, "good"),
     (10, "excellent"), (None, NOT_ASKED_BAND)],
)  # fmt: skip
def test_work_ability_bands_follow_the_published_edges(score: int | None, band: str) -> None:
    assert work_ability_band(score) == band
    frame = pd.DataFrame([{name: None for name in MODEL_FEATURES} | {"work_ability_score": score}])
    frame["employment_status"] = "employed"
    frame["referral_source"] = "self"
    frame["client_group"] = "new_client"
    encoded = transformers.encode_records(frame.replace({np.nan: None}).to_dict("records"))
    derived = transformers.derive(encoded)
    categories = transformers.OUTPUT_CATEGORIES["work_ability_band"]
    assert categories[int(derived["work_ability_band"][0])] == band


@pytest.mark.parametrize(
    ("name", "value", "language", "expected"),
    [
        ("sickness_absence_days_12m", 1, "fi", "1 päivä"),
        ("sickness_absence_days_12m", 12, "fi", "12 päivää"),
        ("sickness_absence_days_12m", 1, "sv", "1 dag"),
        ("sickness_absence_days_12m", 12, "sv", "12 dagar"),
        ("sickness_absence_days_12m", 1, "en", "1 day"),
        ("sickness_absence_days_12m", 0, "en", "0 days"),
        ("healthcare_visits_12m", 1, "fi", "1 käynti"),
        ("healthcare_visits_12m", 3, "fi", "3 käyntiä"),
        ("complaint_duration_weeks", 1, "sv", "1 vecka"),
        ("complaint_duration_weeks", 14, "sv", "14 veckor"),
        ("months_unemployed", 1, "en", "1 month"),
        ("work_ability_score", 3, "fi", "3/10 (huono)"),
        ("work_ability_score", 10, "sv", "10/10 (utmärkt)"),
        ("contact_reason", "L", "fi", "tuki- ja liikuntaelimet"),
        ("mental_health_concern", True, "sv", "ja"),
        ("work_ability_score", None, "en", "not asked"),
    ],
)
def test_values_read_with_singular_and_plural(
    name: str, value: object, language: str, expected: str
) -> None:
    assert value_text(name, value, language) == expected


def _kinds_of_value(name: str) -> list[object]:
    field = FIELDS_BY_NAME[name]
    values: list[object] = list(field.categories or ())
    if field.kind == "boolean":
        values += [True, False]
    if field.kind in ("integer", "number"):
        values += [0, 1, 12]
    if field.nullable:
        values.append(None)
    return values


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", MODEL_FEATURES)
def test_every_feature_and_kind_of_value_reads_in_every_language(name: str, language: str) -> None:
    assert label(name, language).strip()
    for value in _kinds_of_value(name):
        text = value_text(name, value, language)
        assert text.strip() and "_" not in text, (name, value, text)


def test_derived_features_name_their_sources() -> None:
    assert sources("prolonged_situations") == (
        "months_unemployed",
        "sickness_absence_days_12m",
        "complaint_duration_weeks",
    )
    assert sources("work_ability_band") == ("work_ability_score",)
    assert label("long_term_unemployed", "fi") == "Pitkäaikaistyöttömyys (vähintään 12 kk)"
