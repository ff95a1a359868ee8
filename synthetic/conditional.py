"""Features whose distribution depends on a protected attribute as well as on the class.

The sex-specific ICPC-2 chapters exist only for one sex (W pregnancy and X female genital for women,
Y male genital for men) and pregnancy mostly before 45; youth services refer only clients under 30.
Drawing these independently of sex and age, as the generator once did, hides from every test that a
feature can stand for a protected attribute. Here each is drawn from P(value | condition, class),
the condition being sex and age (chapter) or age (referral source), and the evidence it adds is
log P(value | condition, need) - log P(value | condition, other). Sex and age have added their own
evidence already, so ``true_risk`` stays the exact posterior: P(sex, age, value | class) =
P(sex | class) P(age | class) P(value | sex, age, class).

Structural zeros (a man with chapter X) are zeros in both classes, so they are never drawn and never
weighed; every other value keeps a small floor, so no likelihood ratio is 0 or infinite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_contracts.contract import FIELDS_BY_NAME
from synthetic.parameters import (
    FEMALE_CHAPTERS,
    MALE_CHAPTERS,
    PREGNANCY_BY_AGE,
    YOUTH_SERVICES_MAX_AGE,
    ClassParameters,
    RegionParameters,
    Shares,
)

_FLOOR = 1e-6
_YOUTH_SERVICES = "youth_services"


@dataclass(frozen=True)
class ConditionalPmf:
    """P(value | condition): row c of ``probs`` is the distribution given condition code c."""

    probs: np.ndarray  # (conditions, values)

    def sample(self, rng: np.random.Generator, conditions: np.ndarray) -> np.ndarray:
        values = np.zeros(len(conditions), dtype=np.int64)
        for code in np.unique(conditions):
            rows = conditions == code
            values[rows] = rng.choice(self.probs.shape[1], size=int(rows.sum()), p=self.probs[code])
        return values


def categories(name: str) -> tuple[str, ...]:
    found = FIELDS_BY_NAME[name].categories
    assert found is not None, name
    return found


def _open_shares(shares: Shares, values: tuple[str, ...], closed: tuple[str, ...]) -> np.ndarray:
    """``shares`` normalised over ``values``; the ``closed`` values get exactly 0, others a floor."""
    named = set(shares)
    unknown = named - set(values)
    if unknown:
        raise ValueError(f"shares name categories outside the contract: {sorted(unknown)}")
    if named & set(closed):
        raise ValueError(f"shares name values drawn separately: {sorted(named & set(closed))}")
    probs = np.array([0.0 if v in closed else max(shares.get(v, 0.0), _FLOOR) for v in values])
    normalised: np.ndarray = probs / probs.sum()
    return normalised


def pregnancy_by_age(size: int) -> np.ndarray:
    """The weight of chapter W at each age 0..size-1, 1 at the ages of most births."""
    weights = np.zeros(size)
    for (low, high), weight in PREGNANCY_BY_AGE:
        weights[low : high + 1] = weight
    return weights


def age_size(region: RegionParameters) -> int:
    return region.age_range[1] + 1


def chapter_condition(sex: np.ndarray, age: np.ndarray, region: RegionParameters) -> np.ndarray:
    """The condition code of the chapter: sex code and age together."""
    result: np.ndarray = sex * age_size(region) + age
    return result


def chapter_pmf(p: ClassParameters, region: RegionParameters) -> ConditionalPmf:
    """P(chapter | sex, age) of one class: the sex-specific chapters within their sex (W by age),
    the remaining share over the open chapters in the class's proportions."""
    chapters = categories("contact_reason")
    closed = FEMALE_CHAPTERS + MALE_CHAPTERS
    open_probs = _open_shares(p.contact_reason, chapters, closed)
    sizes = age_size(region)
    tables = []
    for sex in categories("sex"):
        specific = np.zeros((sizes, len(chapters)))
        if sex == "female":
            specific[:, chapters.index("W")] = p.pregnancy * pregnancy_by_age(sizes)
            specific[:, chapters.index("X")] = p.female_genital
        elif sex == "male":
            specific[:, chapters.index("Y")] = p.male_genital
        rest = 1.0 - specific.sum(axis=1, keepdims=True)
        if np.any(rest <= 0):
            raise ValueError("sex-specific chapters take the whole share of contacts")
        tables.append(specific + rest * open_probs)
    return ConditionalPmf(np.concatenate(tables))


def referral_pmf(p: ClassParameters, region: RegionParameters) -> ConditionalPmf:
    """P(referral source | age) of one class: youth services only up to YOUTH_SERVICES_MAX_AGE,
    taking their share from the other sources in proportion."""
    sources = categories("referral_source")
    open_probs = _open_shares(p.referral, sources, (_YOUTH_SERVICES,))
    young = np.arange(age_size(region)) <= YOUTH_SERVICES_MAX_AGE
    youth = np.where(young, p.youth_services, 0.0)[:, None]
    table = (1.0 - youth) * open_probs
    table[:, sources.index(_YOUTH_SERVICES)] = youth[:, 0]
    return ConditionalPmf(table)
