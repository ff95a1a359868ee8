"""The feature specification: every model feature once, with everything known about it.

For each output column of ``features.BookingFeatures``: the contract field(s) it comes from, how it is
derived (the thresholds and band edges, each written only here), the direction in which it may move the
need for support (LightGBM's monotone constraint) and what a person reads about it in Finnish, Swedish
and English (label, value texts, unit with singular and plural). The transformers, the monotone
constraints, the hand rule, segment naming and the reason sentences all read this module.

The thresholds and why (DOMAIN.md and its sources):

- unemployment of 12 months or more is long-term (Statistics Finland); over 24 months is the TOIKE
  figure "unemployed for over two years";
- 30 days of sickness absence is the notification to occupational health; 90 days the work-ability
  statement (the 30-60-90 rule);
- a complaint of 12 weeks (three months) or more is prolonged;
- 8 or more primary-care visits a year is a frequent attender;
- Work Ability Score bands: poor 0-5, moderate 6-7, good 8-9, excellent 10 (Finnish Institute of
  Occupational Health; DOMAIN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Literal

from data_contracts.contract import FIELDS_BY_NAME, MODEL_FEATURES
from features.texts import (
    CATEGORY_TEXTS,
    DAYS,
    FOLDED_TEXT,
    MONTHS,
    NOT_ASKED,
    NOT_CLASSIFIED,
    NOT_RECORDED,
    POINTS,
    VISITS,
    WEEKS,
    YES_NO,
    Text,
    Unit,
)

Language = Literal["fi", "sv", "en"]
LANGUAGES: tuple[Language, ...] = ("fi", "sv", "en")


Kind = Literal["recorded", "threshold", "bands", "member_of", "missing", "count_of"]


@dataclass(frozen=True)
class FeatureSpec:
    """One model feature (an output column of BookingFeatures)."""

    name: str
    #: recorded: the contract field as it is; threshold: 1 when ``field`` reaches ``threshold``;
    #: bands: the band of ``field`` between ``edges`` (named ``bands``, then "not asked");
    #: member_of: 1 when ``field`` is one of ``members``; missing: 1 when ``field`` is missing;
    #: count_of: how many of ``parts`` (other features) are 1
    kind: Kind
    label: Text
    #: +1 may only raise the need, -1 only lower it, 0 unconstrained (published support: DOMAIN.md)
    monotone: int = 0
    field: str | None = None
    threshold: float | None = None
    edges: tuple[float, ...] = ()
    bands: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    #: what each value reads as: categories, bands, "yes"/"no", and "missing"
    value_texts: dict[str, Text] = dataclass_field(default_factory=dict)
    #: categories merged into one (recorded category fields): contract value -> feature value
    fold: dict[str, str] = dataclass_field(default_factory=dict)
    unit: Unit | None = None
    #: False: kept for people (explanations, profiles), not given to the booster
    for_booster: bool = True


#: The band name of "not asked" (a missing work ability score) in the band feature.
NOT_ASKED_BAND = "not_asked"


#: The sex-specific ICPC-2 chapters, merged into one model category so that the reason for contact
#: cannot stand for sex (W pregnancy and X female genital were read as "lowers the alert" while Y
#: was not: a proxy). The contract keeps the chapter as recorded; only the model sees the merge.
SEX_SPECIFIC_CHAPTERS = "WXY"
_FOLDED_CHAPTERS = {
    "W": SEX_SPECIFIC_CHAPTERS,
    "X": SEX_SPECIFIC_CHAPTERS,
    "Y": SEX_SPECIFIC_CHAPTERS,
}


def feature_categories(feature: FeatureSpec) -> list[str]:
    """The categories of a recorded category feature, in code order (after any fold)."""
    assert feature.field is not None
    contract = FIELDS_BY_NAME[feature.field].categories or ()
    return list(dict.fromkeys(feature.fold.get(c, c) for c in contract))


def _recorded(
    name: str,
    label: Text,
    monotone: int = 0,
    unit: Unit | None = None,
    fold: dict[str, str] | None = None,
) -> FeatureSpec:
    """A contract field used as it is recorded; its value texts follow its kind."""
    contract = FIELDS_BY_NAME[name]
    values: dict[str, Text] = dict(CATEGORY_TEXTS.get(name, {}))
    if fold:
        values = {k: v for k, v in values.items() if k not in fold}
        values[next(iter(fold.values()))] = FOLDED_TEXT
    if contract.kind == "boolean":
        values |= YES_NO
    if contract.nullable:
        values["missing"] = {
            "not asked": NOT_ASKED,
            "not recorded": NOT_RECORDED,
            "not classified at booking": NOT_CLASSIFIED,
        }[contract.missing or "not asked"]
    return FeatureSpec(
        name,
        "recorded",
        label,
        monotone,
        field=name,
        value_texts=values,
        unit=unit,
        fold=dict(fold or {}),
    )


def _flag(name: str, source: str, threshold: float, label: Text, monotone: int = 0) -> FeatureSpec:
    return FeatureSpec(
        name, "threshold", label, monotone, field=source, threshold=threshold, value_texts=YES_NO
    )


# fmt: off
FEATURES: tuple[FeatureSpec, ...] = (
    _recorded("employment_status", Text("Työtilanne", "Arbetssituation", "Employment status")),
    _recorded("months_unemployed", Text("Työttömyyden kesto", "Arbetslöshetens längd", "Length of unemployment"), +1, MONTHS),
    _recorded("sickness_absence_days_12m", Text("Sairauspoissaolot 12 kk", "Sjukfrånvaro 12 mån", "Sickness absence, 12 months"), +1, DAYS),
    _recorded("healthcare_visits_12m", Text("Terveyskeskuskäynnit 12 kk", "Hälsocentralsbesök 12 mån", "Health-centre visits, 12 months"), 0, VISITS),
    _recorded("contact_reason", Text("Yhteydenoton syy (ICPC-2)", "Kontaktorsak (ICPC-2)", "Reason for contact (ICPC-2)"), fold=_FOLDED_CHAPTERS),
    _recorded("complaint_duration_weeks", Text("Vaivan kesto", "Besvärets längd", "Duration of the complaint"), +1, WEEKS),
    _recorded("work_ability_score", Text("Itsearvioitu työkyky", "Självskattad arbetsförmåga", "Self-rated work ability"), -1, POINTS),
    _recorded("referral_source", Text("Ohjaava taho", "Hänvisande instans", "Referred by")),
    _recorded("client_group", Text("Asiakasryhmä", "Klientgrupp", "Client group")),
    _recorded("mental_health_concern", Text("Huoli mielenterveydestä", "Oro för den psykiska hälsan", "Mental-health concern"), +1),
    _recorded("substance_use_concern", Text("Huoli päihteiden käytöstä", "Oro för rusmedelsbruk", "Substance-use concern"), +1),
    _recorded("financial_difficulties", Text("Taloudelliset vaikeudet", "Ekonomiska svårigheter", "Financial difficulties"), +1),
    FeatureSpec(
        "work_ability_band", "bands",
        Text("Työkykyluokka", "Arbetsförmågeklass", "Work ability band"),
        field="work_ability_score", edges=(6.0, 8.0, 10.0),
        bands=("poor", "moderate", "good", "excellent"),
        value_texts={
            "poor": Text("huono", "dålig", "poor"),
            "moderate": Text("kohtalainen", "måttlig", "moderate"),
            "good": Text("hyvä", "god", "good"),
            "excellent": Text("erinomainen", "utmärkt", "excellent"),
            NOT_ASKED_BAND: NOT_ASKED,
        },
        # A categorical copy of the score: LightGBM cannot constrain a categorical monotonically,
        # so it could let a lower score lower the alert. Kept for people (reasons, profiles).
        for_booster=False,
    ),
    FeatureSpec(
        "work_ability_not_asked", "missing",
        Text("Työkykyä ei kysytty", "Arbetsförmågan inte efterfrågad", "Work ability not asked"),
        field="work_ability_score", value_texts=YES_NO,
    ),
    _flag("long_term_unemployed", "months_unemployed", 12, Text("Pitkäaikaistyöttömyys (vähintään {threshold:g} kk)", "Långtidsarbetslöshet (minst {threshold:g} månader)", "Long-term unemployment ({threshold:g}+ months)"), +1),
    _flag("very_long_term_unemployed", "months_unemployed", 24, Text("Työttömyys vähintään {threshold:g} kk", "Arbetslöshet i minst {threshold:g} månader", "Unemployment of {threshold:g}+ months"), +1),
    _flag("long_sickness_absence", "sickness_absence_days_12m", 30, Text("Sairauspoissaoloja vähintään {threshold:g} päivää", "Sjukfrånvaro i minst {threshold:g} dagar", "Sickness absence of {threshold:g}+ days"), +1),
    _flag("very_long_sickness_absence", "sickness_absence_days_12m", 90, Text("Sairauspoissaoloja vähintään {threshold:g} päivää", "Sjukfrånvaro i minst {threshold:g} dagar", "Sickness absence of {threshold:g}+ days"), +1),
    _flag("prolonged_complaint", "complaint_duration_weeks", 12, Text("Pitkittynyt vaiva (vähintään {threshold:g} viikkoa)", "Långvarigt besvär (minst {threshold:g} veckor)", "Prolonged complaint ({threshold:g}+ weeks)"), +1),
    _flag("frequent_attender", "healthcare_visits_12m", 8, Text("Toistuvat käynnit (vähintään {threshold:g} vuodessa)", "Täta besök (minst {threshold:g} per år)", "Frequent attender ({threshold:g}+ visits a year)")),
    FeatureSpec(
        "out_of_work", "member_of",
        Text("Työtön tai lomautettu", "Arbetslös eller permitterad", "Unemployed or laid off"),
        field="employment_status", members=("unemployed", "laid_off"), value_texts=YES_NO,
    ),
    FeatureSpec(
        "prolonged_situations", "count_of",
        Text("Pitkittyneitä tilanteita", "Långvariga situationer", "Prolonged situations"), +1,
        parts=("long_term_unemployed", "long_sickness_absence", "prolonged_complaint"),
    ),
    FeatureSpec(
        "psychosocial_concerns", "count_of",
        Text("Psykososiaalisia huolia", "Psykosociala orosmoment", "Psychosocial concerns"), +1,
        parts=("mental_health_concern", "substance_use_concern", "financial_difficulties"),
    ),
)
# fmt: on

SPEC: dict[str, FeatureSpec] = {spec.name: spec for spec in FEATURES}


def spec(name: str) -> FeatureSpec:
    try:
        return SPEC[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a model feature of features.spec") from None


def sources(name: str) -> tuple[str, ...]:
    """The contract fields a feature comes from (a count, from its parts' fields)."""
    feature = spec(name)
    if feature.kind == "count_of":
        found: list[str] = []
        for part in feature.parts:
            found += [s for s in sources(part) if s not in found]
        return tuple(found)
    assert feature.field is not None
    return (feature.field,)


def threshold(name: str) -> float:
    """The threshold of a flag feature (e.g. ``long_term_unemployed`` -> 12)."""
    value = spec(name).threshold
    if value is None:
        raise ValueError(f"{name} is not a threshold feature")
    return value


def label(name: str, language: str) -> str:
    feature = spec(name)
    return feature.label[language].format(threshold=feature.threshold or 0)


def work_ability_band(score: float | None) -> str:
    """The band name of one Work Ability Score (``not_asked`` for none)."""
    bands = spec("work_ability_band")
    if score is None:
        return NOT_ASKED_BAND
    position = sum(score >= edge for edge in bands.edges)
    return bands.bands[position]


def value_text(name: str, value: object, language: str) -> str:
    """How a feature's value reads: a category's name, yes/no, a count with its unit, a band."""
    feature = spec(name)
    if value is None:
        return feature.value_texts["missing"][language]
    if isinstance(value, bool):
        return feature.value_texts["yes" if value else "no"][language]
    if name == "work_ability_score":
        assert isinstance(value, int | float)
        band = spec("work_ability_band").value_texts[work_ability_band(value)][language]
        return f"{value:g}/10 ({band})"
    if feature.unit is not None:
        assert isinstance(value, int | float)
        return feature.unit.count(value, language)
    text = feature.fold.get(str(value), str(value))
    return feature.value_texts[text][language] if text in feature.value_texts else text


def monotone_directions() -> dict[str, int]:
    return {f.name: f.monotone for f in FEATURES}


def check_spec(features: tuple[FeatureSpec, ...] = FEATURES) -> list[str]:
    """What the specification lacks (empty when complete); tested."""
    problems: list[str] = []
    recorded = {f.field for f in features if f.kind == "recorded"}
    for name in MODEL_FEATURES:
        if name not in recorded:
            problems.append(f"model feature {name} has no recorded FeatureSpec")
    known = {f.name for f in features}
    for feature in features:
        where = f"feature {feature.name}"
        for language in LANGUAGES:
            if not feature.label[language].strip():
                problems.append(f"{where}: no label in {language}")
            for key, text in feature.value_texts.items():
                if not text[language].strip():
                    problems.append(f"{where}: value {key} has no text in {language}")
            if feature.unit is not None and not (
                feature.unit.one[language] and feature.unit.many[language]
            ):
                problems.append(f"{where}: unit lacks a form in {language}")
        if feature.monotone not in (-1, 0, 1):
            problems.append(f"{where}: monotone direction {feature.monotone} not -1, 0 or +1")
        if feature.kind == "count_of":
            problems += [
                f"{where}: part {p} is not a feature" for p in feature.parts if p not in known
            ]
        elif feature.field not in MODEL_FEATURES:
            problems.append(f"{where}: source {feature.field} is not a contract model feature")
        problems += _missing_value_texts(feature)
    return problems


def _missing_value_texts(feature: FeatureSpec) -> list[str]:
    where = f"feature {feature.name}"
    needed: list[str] = []
    if feature.kind == "recorded":
        contract = FIELDS_BY_NAME[feature.field or ""]
        needed += feature_categories(feature) if contract.categories else []
        if contract.kind == "boolean":
            needed += ["yes", "no"]
        if contract.nullable:
            needed.append("missing")
        if (
            contract.kind in ("integer", "number")
            and feature.unit is None
            and (feature.name != "work_ability_score")
        ):
            return [f"{where}: a count without a unit"]
    elif feature.kind == "bands":
        needed += [*feature.bands, NOT_ASKED_BAND]
        if len(feature.edges) + 1 != len(feature.bands):
            return [f"{where}: {len(feature.edges)} edges for {len(feature.bands)} bands"]
    elif feature.kind in ("threshold", "member_of", "missing"):
        needed += ["yes", "no"]
    return [f"{where}: no text for value {key}" for key in needed if key not in feature.value_texts]
