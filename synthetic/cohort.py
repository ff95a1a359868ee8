"""Synthetic booking cohorts: the whole working-age booking population of a region.

The generator first draws the outcome (needs work-ability support or not) and then every feature from
its class's distribution (``synthetic.parameters``). Each feature adds the log of its likelihood ratio
to the row's evidence, so ``true_risk`` is the exact posterior probability of need given everything
drawn: the best any model could do. Missing values are drawn with the same probability in both
classes, so that "not asked" tells nothing by itself. The reason for contact depends on sex and age
and the referral source on age (``synthetic.conditional``): their evidence is weighed given those.

Everything is vectorised numpy: one million rows take a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from data_contracts.contract import FIELDS_BY_NAME, booking_frame_schema
from data_contracts.values import code_free_reference
from synthetic.conditional import (
    ConditionalPmf,
    chapter_condition,
    chapter_pmf,
    referral_pmf,
)
from synthetic.parameters import REGIONS, Bins, ClassParameters, RegionParameters, Shares

WORK_ABILITY_POINTS = 11
_FLOOR = 1e-6  # no category is impossible in either class, so no likelihood ratio is 0 or infinite
_YEAR_START = pd.Timestamp("2025-01-01", tz="UTC")
_SICKNESS_SIZE = 301  # days 0..300
#: Employment statuses with an employer or a business: certified sickness absence is common only here.
WORKING_STATUSES = ("employed", "entrepreneur")
_COMPLAINT_SIZE = 261  # weeks 0..260


@dataclass(frozen=True)
class Pmf:
    """A distribution over the whole numbers 0..K-1 (category codes or counts)."""

    probs: np.ndarray

    @classmethod
    def of_shares(cls, shares: Shares, categories: tuple[str, ...]) -> Pmf:
        unknown = set(shares) - set(categories)
        if unknown:
            raise ValueError(f"shares name categories outside the contract: {sorted(unknown)}")
        probs = np.array([shares.get(c, 0.0) for c in categories], dtype=float)
        return cls._normalised(probs)

    @classmethod
    def of_bins(cls, bins: Bins, size: int) -> Pmf:
        probs = np.zeros(size)
        for (low, high), share in bins:
            probs[low : high + 1] += share / (high - low + 1)
        return cls._normalised(probs)

    @classmethod
    def _normalised(cls, probs: np.ndarray) -> Pmf:
        probs = np.maximum(probs, _FLOOR)
        return cls(probs / probs.sum())

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.probs), size=n, p=self.probs)


def _categories(name: str) -> tuple[str, ...]:
    categories = FIELDS_BY_NAME[name].categories
    assert categories is not None, name
    return categories


def _sex_pmf(p: ClassParameters, region: RegionParameters) -> Pmf:
    known = 1 - region.share_sex_unknown
    shares = {"male": p.share_men * known, "female": (1 - p.share_men) * known}
    shares["unknown"] = region.share_sex_unknown
    return Pmf.of_shares(shares, _categories("sex"))


def _age_pmf(p: ClassParameters, region: RegionParameters) -> Pmf:
    low, high = region.age_range
    ages = np.arange(high + 1)
    density = stats.norm.pdf(ages, p.age_mean, p.age_sd)
    density[ages < low] = 0.0
    return Pmf(density / density.sum())


def _work_ability_pmf(p: ClassParameters) -> Pmf:
    a, b = p.work_ability_ab
    probs = stats.betabinom.pmf(np.arange(WORK_ABILITY_POINTS), WORK_ABILITY_POINTS - 1, a, b)
    if p.work_ability_top_share is not None:
        probs[:-1] *= (1 - p.work_ability_top_share) / probs[:-1].sum()
        probs[-1] = p.work_ability_top_share
    return Pmf(probs)


def _visits_pmf(mean: float, dispersion: float, size: int = 366) -> Pmf:
    # negative binomial with mean ``mean`` and shape ``dispersion``
    prob = dispersion / (dispersion + mean)
    return Pmf._normalised(stats.nbinom.pmf(np.arange(size), dispersion, prob))


class _Draw:
    """Draws features class by class and keeps the running log likelihood ratio of need."""

    def __init__(self, rng: np.random.Generator, need: np.ndarray) -> None:
        self.rng = rng
        self.need = need
        self.log_lr = np.zeros(len(need))

    def factor(self, pmf_need: Pmf, pmf_other: Pmf, rows: np.ndarray | None = None) -> np.ndarray:
        rows = np.ones(len(self.need), dtype=bool) if rows is None else rows
        values = np.zeros(len(self.need), dtype=np.int64)
        for in_class, pmf in ((True, pmf_need), (False, pmf_other)):
            take = rows & (self.need == in_class)
            values[take] = pmf.sample(self.rng, int(take.sum()))
        with np.errstate(divide="ignore", invalid="ignore"):  # values outside both supports
            log_ratio = np.log(pmf_need.probs) - np.log(pmf_other.probs)
        self.log_lr[rows] += log_ratio[values[rows]]
        return values

    def factor_given(
        self, pmf_need: ConditionalPmf, pmf_other: ConditionalPmf, conditions: np.ndarray
    ) -> np.ndarray:
        """Values drawn given each row's condition code; evidence weighed given the condition."""
        values = np.zeros(len(self.need), dtype=np.int64)
        for in_class, pmf in ((True, pmf_need), (False, pmf_other)):
            take = self.need == in_class
            values[take] = pmf.sample(self.rng, conditions[take])
        with np.errstate(divide="ignore", invalid="ignore"):  # structural zeros are never drawn
            log_ratio = np.log(pmf_need.probs) - np.log(pmf_other.probs)
        self.log_lr += log_ratio[conditions, values]
        return values

    def flag(self, p_need: float, p_other: float, rows: np.ndarray | None = None) -> np.ndarray:
        pmf_need = Pmf(np.array([1 - p_need, p_need]))
        pmf_other = Pmf(np.array([1 - p_other, p_other]))
        return self.factor(pmf_need, pmf_other, rows).astype(bool)

    def missing(self, p_missing: float) -> np.ndarray:
        # the same probability in both classes: no evidence either way
        return self.rng.random(len(self.need)) < p_missing


def _categorical(codes: np.ndarray, name: str) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=FIELDS_BY_NAME[name].pandas_dtype)


def _nullable_int(values: np.ndarray, missing: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(values.astype(np.int64), missing.copy())


def _nullable_bool(values: np.ndarray, missing: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(values.astype(bool), missing.copy())


def _support_level(
    rng: np.random.Generator, need: np.ndarray, columns: dict[str, np.ndarray]
) -> pd.Categorical:
    """Among clients who need support, heavier situations go to heavier levels (ordered logit)."""
    severity = (
        (columns["work_ability_score"] <= 3).astype(float)
        + (columns["months_unemployed"] >= 24)
        + (columns["sickness_absence_days_12m"] >= 90)
        + columns["mental_health_concern"]
        + columns["substance_use_concern"] * 1.5
        + (columns["complaint_duration_weeks"] >= 26)
    )
    latent = 0.8 * severity + rng.logistic(size=len(need))
    # cut points give roughly 25 % self-care, 40 % consultation, 35 % team among the needy
    codes = np.digitize(latent, [0.6, 2.5])
    codes = np.where(need, codes, -1)
    return pd.Categorical.from_codes(codes, dtype=FIELDS_BY_NAME["support_level"].pandas_dtype)


def generate_cohort(region: str, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` synthetic labelled booking records of ``region``; the same seed gives the same frame."""
    if region not in REGIONS:
        raise ValueError(f"region {region!r} has no synthetic parameters; known: {sorted(REGIONS)}")
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    params = REGIONS[region]
    need_p, other_p = params.need, params.other
    rng = np.random.default_rng([seed, sorted(REGIONS).index(region)])
    need = rng.random(rows) < params.prevalence
    draw = _Draw(rng, need)

    sex = draw.factor(_sex_pmf(need_p, params), _sex_pmf(other_p, params))
    age = draw.factor(_age_pmf(need_p, params), _age_pmf(other_p, params))
    statuses = _categories("employment_status")
    employment = draw.factor(
        Pmf.of_shares(need_p.employment, statuses), Pmf.of_shares(other_p.employment, statuses)
    )

    months = np.zeros(rows, dtype=np.int64)
    months_size = max(high for (_, high), _ in need_p.months_unemployed) + 1
    for status, need_bins, other_bins in (
        ("unemployed", need_p.months_unemployed, other_p.months_unemployed),
        ("laid_off", need_p.months_laid_off, other_p.months_laid_off),
    ):
        in_status = employment == statuses.index(status)
        drawn = draw.factor(
            Pmf.of_bins(need_bins, months_size), Pmf.of_bins(other_bins, months_size), in_status
        )
        months[in_status] = drawn[in_status]
    months_missing = (employment == statuses.index("unknown")) | draw.missing(0.03)

    working = np.isin(employment, [statuses.index(s) for s in WORKING_STATUSES])
    sickness = np.zeros(rows, dtype=np.int64)
    for group, need_bins, other_bins in (
        (working, need_p.sickness_absence, other_p.sickness_absence),
        (~working, need_p.sickness_absence_not_working, other_p.sickness_absence_not_working),
    ):
        drawn = draw.factor(
            Pmf.of_bins(need_bins, _SICKNESS_SIZE), Pmf.of_bins(other_bins, _SICKNESS_SIZE), group
        )
        sickness[group] = drawn[group]
    visits = draw.factor(
        _visits_pmf(need_p.visits_mean, params.visits_dispersion),
        _visits_pmf(other_p.visits_mean, params.visits_dispersion),
    )
    contact = draw.factor_given(
        chapter_pmf(need_p, params),
        chapter_pmf(other_p, params),
        chapter_condition(sex, age, params),
    )
    complaint = draw.factor(
        Pmf.of_bins(need_p.complaint_weeks, _COMPLAINT_SIZE),
        Pmf.of_bins(other_p.complaint_weeks, _COMPLAINT_SIZE),
    )
    work_ability = draw.factor(_work_ability_pmf(need_p), _work_ability_pmf(other_p))
    referral = draw.factor_given(referral_pmf(need_p, params), referral_pmf(other_p, params), age)
    groups = _categories("client_group")
    client_group = draw.factor(
        Pmf.of_shares(need_p.client_group, groups), Pmf.of_shares(other_p.client_group, groups)
    )
    mental = draw.flag(need_p.p_mental_health, other_p.p_mental_health)
    substance = draw.flag(need_p.p_substance_use, other_p.p_substance_use)
    financial = np.zeros(rows, dtype=bool)
    for group, p_need, p_other in (
        (working, need_p.p_financial, other_p.p_financial),
        (~working, need_p.p_financial_not_working, other_p.p_financial_not_working),
    ):
        financial[group] = draw.flag(p_need, p_other, group)[group]

    # Not evidence of need: language, place, consent and time do not depend on the class.
    languages = _categories("first_language")
    language = Pmf.of_shares(params.first_language, languages).sample(rng, rows)
    municipality_codes = np.array(list(params.municipalities))
    municipality = municipality_codes[
        rng.choice(len(municipality_codes), size=rows, p=_normalise(params.municipalities))
    ]
    consent = rng.random(rows) < params.p_consent
    booking_time = _booking_times(rng, rows)

    prior_log_odds = np.log(params.prevalence / (1 - params.prevalence))
    true_risk = 1.0 / (1.0 + np.exp(-(prior_log_odds + draw.log_lr)))

    missing_concerns = [draw.missing(params.p_missing_concerns) for _ in range(3)]
    support_level = _support_level(
        rng,
        need,
        {
            "work_ability_score": work_ability,
            "months_unemployed": months,
            "sickness_absence_days_12m": sickness,
            "mental_health_concern": mental,
            "substance_use_concern": substance,
            "complaint_duration_weeks": complaint,
        },
    )
    index = np.arange(rows)
    frame = pd.DataFrame(
        {
            "client_ref": pd.array(_client_refs(rng, rows), dtype="string"),
            # "n" before the running number: after a date-like seed (PIR-131052-...) the
            # number would otherwise complete a personal identity code, which the contract refuses
            "booking_id": pd.array([f"{params.code}-{seed}-n{i:08d}" for i in index], "string"),
            "booking_time": booking_time,
            "age": pd.array(age, dtype="Int64"),
            "sex": _categorical(sex, "sex"),
            "first_language": _categorical(language, "first_language"),
            "region": pd.Categorical(
                np.full(rows, region), dtype=FIELDS_BY_NAME["region"].pandas_dtype
            ),
            "municipality": pd.array(municipality, dtype="string"),
            "employment_status": _categorical(employment, "employment_status"),
            "months_unemployed": _nullable_int(months, months_missing),
            "sickness_absence_days_12m": _nullable_int(
                sickness, draw.missing(params.p_missing_sickness)
            ),
            "healthcare_visits_12m": _nullable_int(visits, draw.missing(params.p_missing_visits)),
            "contact_reason": _categorical(
                np.where(draw.missing(params.p_missing_contact_reason), -1, contact),
                "contact_reason",
            ),
            "complaint_duration_weeks": _nullable_int(
                complaint, draw.missing(params.p_missing_complaint)
            ),
            "work_ability_score": _nullable_int(
                work_ability, draw.missing(params.p_missing_work_ability)
            ),
            "referral_source": _categorical(referral, "referral_source"),
            "client_group": _categorical(client_group, "client_group"),
            "mental_health_concern": _nullable_bool(mental, missing_concerns[0]),
            "substance_use_concern": _nullable_bool(substance, missing_concerns[1]),
            "financial_difficulties": _nullable_bool(financial, missing_concerns[2]),
            "consent_multi_agency": pd.array(consent, dtype="boolean"),
            "needs_support": pd.array(need, dtype="boolean"),
            "support_level": support_level,
            "true_risk": pd.array(true_risk, dtype="Float64"),
        }
    )
    return frame


def likelihood_ratios(region: str) -> dict[str, np.ndarray]:
    """How much each value of the ordered features multiplies the odds of need, by region.

    Index i of an array is the value i (score points, months, days, weeks, visits). Published evidence
    says these must rise with a worse situation; ``tests/synthetic`` checks that they do.
    """
    params = REGIONS[region]
    need_p, other_p = params.need, params.other
    months_size = max(high for (_, high), _ in need_p.months_unemployed) + 1
    pairs = {
        "work_ability_score": (_work_ability_pmf(need_p), _work_ability_pmf(other_p)),
        "months_unemployed": (
            Pmf.of_bins(need_p.months_unemployed, months_size),
            Pmf.of_bins(other_p.months_unemployed, months_size),
        ),
        "sickness_absence_days_12m": (
            Pmf.of_bins(need_p.sickness_absence, _SICKNESS_SIZE),
            Pmf.of_bins(other_p.sickness_absence, _SICKNESS_SIZE),
        ),
        "sickness_absence_days_12m_not_working": (
            Pmf.of_bins(need_p.sickness_absence_not_working, _SICKNESS_SIZE),
            Pmf.of_bins(other_p.sickness_absence_not_working, _SICKNESS_SIZE),
        ),
        "complaint_duration_weeks": (
            Pmf.of_bins(need_p.complaint_weeks, _COMPLAINT_SIZE),
            Pmf.of_bins(other_p.complaint_weeks, _COMPLAINT_SIZE),
        ),
        "healthcare_visits_12m": (
            _visits_pmf(need_p.visits_mean, params.visits_dispersion),
            _visits_pmf(other_p.visits_mean, params.visits_dispersion),
        ),
    }
    return {name: need.probs / other.probs for name, (need, other) in pairs.items()}


def _normalise(shares: Shares) -> np.ndarray:
    probs = np.array(list(shares.values()), dtype=float)
    normalised: np.ndarray = probs / probs.sum()
    return normalised


def _client_refs(rng: np.random.Generator, rows: int) -> list[str]:
    # Pseudonymous, as a booking system would send them: no link to any real person. In groups of
    # five (syn-4c240-25571-5b73b): fifteen hex digits in a row read as a personal identity code
    # about once in 8,000 references, and the contract refuses those.
    numbers = rng.integers(0, 2**60, size=rows, dtype=np.int64)
    return [code_free_reference("syn", f"{n:015x}") for n in numbers]


def _booking_times(rng: np.random.Generator, rows: int) -> pd.DatetimeIndex:
    # Bookings on weekdays in 2025, office hours 8-16 Finnish time (about 6-14 UTC).
    day = rng.integers(0, 365, size=rows)
    day = day - (day + _YEAR_START.dayofweek) % 7 // 5 * 2  # move weekend days back to Friday
    seconds = rng.integers(6 * 3600, 14 * 3600, size=rows)
    offsets = day.astype("timedelta64[D]") + seconds.astype("timedelta64[s]")
    return pd.DatetimeIndex(_YEAR_START + pd.to_timedelta(offsets), dtype="datetime64[ns, UTC]")


def validate_cohort(frame: pd.DataFrame) -> pd.DataFrame:
    """The generator's output always honours the labelled contract; this checks it."""
    validated: pd.DataFrame = booking_frame_schema(labelled=True).validate(frame)
    return validated
