"""Parameters of the synthetic booking population, one set per region.

The generator is class-conditional: it first draws whether a booking client needs work-ability support
(prevalence ``prevalence``), then draws every feature from the distribution of its class. ``need`` is
the distribution among clients who need support, calibrated to the TOIKE cohort (DOMAIN.md, seed 000);
``other`` is the rest of the working-age booking population, from the assumptions documented in
docs/synthetic-data.md. Because both class distributions are known exactly, the generator's
``true_risk`` is the exact posterior probability of need given everything it drew.

Shares are written as {category: share}; binned counts as ((low, high), share) with the share spread
evenly over the whole numbers low..high. The ratio need/other of a category or bin is its likelihood
ratio: how much it multiplies the odds of need.

Two features also depend on protected attributes, as they do in the world: the sex-specific ICPC-2
chapters (W pregnancy and family planning and X female genital only for women, Y male genital only
for men; W mostly under 45) and the youth-services referral (only under 30). Their shares are given
within the sex or age they belong to, and the generator weighs their evidence given sex and age.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Shares = dict[str, float]
Bins = tuple[tuple[tuple[int, int], float], ...]

# Unemployment length in months, of the unemployed. Bins: under 3 months ... 5 to 15 years.
MONTHS_BINS = ((0, 2), (3, 5), (6, 11), (12, 23), (24, 59), (60, 180))
# Sickness-absence days in the last 12 months: none, under 10, 10-29, 30-89 (30-day notification
# to occupational health), 90-179 (90-day work-ability statement), 180+.
SICKNESS_BINS = ((0, 0), (1, 9), (10, 29), (30, 89), (90, 179), (180, 300))
# Duration of the current complaint in weeks: under 2, 2-5, 6-11, 12-25 (prolonged, 3 months+),
# 26-51, a year or more.
COMPLAINT_BINS = ((0, 1), (2, 5), (6, 11), (12, 25), (26, 51), (52, 260))
LAID_OFF_BINS = ((0, 2), (3, 5), (6, 11), (12, 23))

#: ICPC-2 chapters only women (W pregnancy, childbearing, family planning; X female genital) and only
#: men (Y male genital) can have. Clients whose sex is "other" or "unknown" get none of the three.
FEMALE_CHAPTERS = ("W", "X")
MALE_CHAPTERS = ("Y",)
#: Chapter W by age, relative to its share at 30-34 (``ClassParameters.pregnancy``): family planning
#: from 18, pregnancies mostly at 25-39 (the shape of Finnish age-specific fertility), few after 45.
#: Ages not listed have none.
PREGNANCY_BY_AGE: tuple[tuple[tuple[int, int], float], ...] = (
    ((18, 24), 0.7),
    ((25, 29), 0.9),
    ((30, 34), 1.0),
    ((35, 39), 0.7),
    ((40, 44), 0.35),
    ((45, 49), 0.08),
)
#: Youth services (Ohjaamo and the municipal youth services) serve clients under 30.
YOUTH_SERVICES_MAX_AGE = 29


def binned(bins: tuple[tuple[int, int], ...], shares: tuple[float, ...]) -> Bins:
    return tuple(zip(bins, shares, strict=True))


@dataclass(frozen=True)
class ClassParameters:
    share_men: float
    age_mean: float
    age_sd: float
    employment: Shares
    months_unemployed: Bins  # for the unemployed
    months_laid_off: Bins  # for the laid off
    #: sickness absence of the working (employed, entrepreneurs) and of everyone else: people
    #: without an employer rarely have certified sickness absence
    sickness_absence: Bins
    sickness_absence_not_working: Bins
    visits_mean: float
    #: the chapters open to everyone, in proportion (the sex-specific ones are given below)
    contact_reason: Shares
    #: chapter W among the contacts of women aged 30-34 (other ages: ``PREGNANCY_BY_AGE``)
    pregnancy: float
    #: chapter X among the contacts of women, chapter Y among the contacts of men
    female_genital: float
    male_genital: float
    complaint_weeks: Bins
    #: beta-binomial(10, a, b) of the work ability score
    work_ability_ab: tuple[float, float]
    #: referral sources of everyone, in proportion; youth services are given below
    referral: Shares
    #: youth-services referrals among clients up to ``YOUTH_SERVICES_MAX_AGE`` years old
    youth_services: float
    client_group: Shares
    p_mental_health: float
    p_substance_use: float
    p_financial: float  # of the working
    p_financial_not_working: float
    #: share of the top score 10, if the beta-binomial is to be overridden (the cohort's range was 0-9)
    work_ability_top_share: float | None = None


@dataclass(frozen=True)
class RegionParameters:
    region: str
    code: str
    prevalence: float
    first_language: Shares
    municipalities: Shares
    need: ClassParameters
    other: ClassParameters
    # Missing values, the same in both classes so that a missing value carries no information.
    p_missing_work_ability: float = 0.30
    p_missing_concerns: float = 0.20
    p_missing_complaint: float = 0.10
    p_missing_sickness: float = 0.05
    p_missing_visits: float = 0.02
    p_missing_contact_reason: float = 0.05
    p_consent: float = 0.60
    share_sex_unknown: float = 0.005
    age_range: tuple[int, int] = (18, 67)
    visits_dispersion: float = 2.0
    extra: dict[str, float] = field(default_factory=dict)


# Others: the ICPC-2 mix of primary-care contacts (respiratory and musculoskeletal first); the
# sex-specific chapters W, X and Y are drawn within sex (``_OTHER_COMMON``), the rest in proportion.
_OTHER_CONTACT: Shares = {
    "A": 0.10,
    "B": 0.01,
    "D": 0.06,
    "F": 0.03,
    "H": 0.04,
    "K": 0.07,
    "L": 0.18,
    "N": 0.04,
    "P": 0.08,
    "R": 0.20,
    "S": 0.06,
    "T": 0.04,
    "U": 0.03,
    "Z": 0.01,
}
# Need: musculoskeletal and mental-health complaints dominate work-disability (Kela, ETK statistics).
_NEED_CONTACT: Shares = {
    "A": 0.105,
    "B": 0.01,
    "D": 0.05,
    "F": 0.02,
    "H": 0.03,
    "K": 0.07,
    "L": 0.21,
    "N": 0.045,
    "P": 0.12,
    "R": 0.18,
    "S": 0.04,
    "T": 0.04,
    "U": 0.02,
    "Z": 0.025,
}

_OTHER_SICKNESS = binned(SICKNESS_BINS, (0.38, 0.22, 0.15, 0.13, 0.08, 0.04))
_NEED_SICKNESS = binned(SICKNESS_BINS, (0.20, 0.17, 0.15, 0.19, 0.16, 0.13))
_OTHER_SICKNESS_NOT_WORKING = binned(SICKNESS_BINS, (0.72, 0.12, 0.07, 0.05, 0.025, 0.015))
_NEED_SICKNESS_NOT_WORKING = binned(SICKNESS_BINS, (0.55, 0.15, 0.11, 0.09, 0.06, 0.04))
_OTHER_COMPLAINT = binned(COMPLAINT_BINS, (0.24, 0.22, 0.15, 0.15, 0.13, 0.11))
_NEED_COMPLAINT = binned(COMPLAINT_BINS, (0.17, 0.18, 0.16, 0.17, 0.16, 0.16))
_OTHER_MONTHS = binned(MONTHS_BINS, (0.30, 0.22, 0.20, 0.13, 0.10, 0.05))
_OTHER_LAID_OFF = binned(LAID_OFF_BINS, (0.55, 0.30, 0.12, 0.03))
_NEED_LAID_OFF = binned(LAID_OFF_BINS, (0.30, 0.35, 0.25, 0.10))

_OTHER_COMMON = {
    "age_mean": 45.0,
    "age_sd": 12.0,
    "months_unemployed": _OTHER_MONTHS,
    "months_laid_off": _OTHER_LAID_OFF,
    "sickness_absence": _OTHER_SICKNESS,
    "sickness_absence_not_working": _OTHER_SICKNESS_NOT_WORKING,
    "visits_mean": 4.0,
    "contact_reason": _OTHER_CONTACT,
    # W about 2 %, X 2 % and Y 1 % of all contacts, as before they were drawn within sex
    "pregnancy": 0.12,
    "female_genital": 0.035,
    "male_genital": 0.02,
    "youth_services": 0.03,
    "complaint_weeks": _OTHER_COMPLAINT,
    # mean 7.2, median 8: the working-age population's WAS (Health 2000/2011 surveys)
    "work_ability_ab": (2.2, 1.7),
    "p_mental_health": 0.18,
    "p_substance_use": 0.06,
    "p_financial": 0.10,
    "p_financial_not_working": 0.28,
}
_NEED_COMMON = {
    # truncated to 18-67, this gives the cohort's mean age 48
    "age_mean": 48.6,
    "age_sd": 9.0,
    "months_laid_off": _NEED_LAID_OFF,
    "sickness_absence": _NEED_SICKNESS,
    "sickness_absence_not_working": _NEED_SICKNESS_NOT_WORKING,
    "visits_mean": 4.5,
    "contact_reason": _NEED_CONTACT,
    # within sex and age, W and X are less common among clients who need support, Y as common
    "pregnancy": 0.08,
    "female_genital": 0.025,
    "male_genital": 0.02,
    # young people who need support are often found by youth services (Ohjaamo): seed 002
    "youth_services": 0.08,
    "complaint_weeks": _NEED_COMPLAINT,
    # median 4, almost never 10: the cohort's median 4, range 0-9
    "work_ability_ab": (2.2, 2.9),
    "work_ability_top_share": 0.002,
    "p_mental_health": 0.27,
    "p_substance_use": 0.09,
    "p_financial": 0.15,
    "p_financial_not_working": 0.36,
}

REGIONS: dict[str, RegionParameters] = {
    "pirkanmaa": RegionParameters(
        region="pirkanmaa",
        code="PIR",
        prevalence=0.05,
        first_language={"fi": 0.910, "sv": 0.004, "other": 0.086},
        # Tampere, Nokia, Ylöjärvi, Kangasala, Lempäälä, Pirkkala, Sastamala, Orivesi
        municipalities={
            "837": 0.50,
            "536": 0.08,
            "980": 0.08,
            "211": 0.08,
            "418": 0.07,
            "604": 0.06,
            "790": 0.08,
            "562": 0.05,
        },
        need=ClassParameters(
            share_men=0.35,
            employment={
                "employed": 0.295,
                "entrepreneur": 0.059,
                "unemployed": 0.566,
                "laid_off": 0.060,
                "student": 0.010,
                "outside_labour_force": 0.005,
                "unknown": 0.005,
            },
            # of the unemployed and laid off together, 50 % over two years (TOIKE)
            months_unemployed=binned(MONTHS_BINS, (0.05, 0.07, 0.12, 0.207, 0.303, 0.25)),
            referral={
                "employment_services": 0.33,
                "self": 0.24,
                "specialised_care": 0.18,
                "primary_care": 0.13,
                "kela": 0.03,
                "occupational_health": 0.03,
                "social_services": 0.03,
                "pension_insurer": 0.010,
                "criminal_sanctions": 0.005,
                "education": 0.003,
                "ngo": 0.007,
                "other": 0.005,
            },
            client_group={"new_client": 0.30, "outside_services": 0.12, "in_services": 0.58},
            **_NEED_COMMON,  # type: ignore[arg-type]
        ),
        other=ClassParameters(
            share_men=0.45,
            employment={
                "employed": 0.48,
                "entrepreneur": 0.07,
                "unemployed": 0.17,
                "laid_off": 0.03,
                "student": 0.11,
                "outside_labour_force": 0.10,
                "unknown": 0.04,
            },
            referral={
                "self": 0.45,
                "primary_care": 0.14,
                "occupational_health": 0.06,
                "employment_services": 0.15,
                "specialised_care": 0.10,
                "kela": 0.03,
                "social_services": 0.04,
                "pension_insurer": 0.003,
                "criminal_sanctions": 0.002,
                "education": 0.006,
                "ngo": 0.008,
                "other": 0.011,
            },
            client_group={"new_client": 0.27, "outside_services": 0.08, "in_services": 0.65},
            **_OTHER_COMMON,  # type: ignore[arg-type]
        ),
    ),
    "etela-pohjanmaa": RegionParameters(
        region="etela-pohjanmaa",
        code="EPO",
        prevalence=0.06,
        first_language={"fi": 0.965, "sv": 0.005, "other": 0.030},
        # Seinäjoki, Lapua, Kurikka, Kauhava, Kauhajoki, Ilmajoki, Alavus, Alajärvi
        municipalities={
            "743": 0.36,
            "408": 0.09,
            "301": 0.11,
            "233": 0.09,
            "232": 0.09,
            "145": 0.08,
            "010": 0.10,
            "005": 0.08,
        },
        need=ClassParameters(
            share_men=0.43,
            employment={
                "employed": 0.225,
                "entrepreneur": 0.030,
                "unemployed": 0.665,
                "laid_off": 0.060,
                "student": 0.010,
                "outside_labour_force": 0.005,
                "unknown": 0.005,
            },
            # of the unemployed and laid off together, 63 % over two years (TOIKE)
            months_unemployed=binned(MONTHS_BINS, (0.03, 0.05, 0.09, 0.143, 0.387, 0.30)),
            referral={
                "employment_services": 0.34,
                "self": 0.04,
                "specialised_care": 0.26,
                "primary_care": 0.19,
                "kela": 0.04,
                "occupational_health": 0.04,
                "social_services": 0.05,
                "pension_insurer": 0.012,
                "criminal_sanctions": 0.005,
                "education": 0.003,
                "ngo": 0.007,
                "other": 0.013,
            },
            client_group={"new_client": 0.26, "outside_services": 0.12, "in_services": 0.62},
            **_NEED_COMMON,  # type: ignore[arg-type]
        ),
        other=ClassParameters(
            share_men=0.47,
            employment={
                "employed": 0.47,
                "entrepreneur": 0.10,
                "unemployed": 0.15,
                "laid_off": 0.03,
                "student": 0.10,
                "outside_labour_force": 0.11,
                "unknown": 0.04,
            },
            referral={
                "self": 0.20,
                "primary_care": 0.20,
                "occupational_health": 0.06,
                "employment_services": 0.22,
                "specialised_care": 0.19,
                "kela": 0.04,
                "social_services": 0.05,
                "pension_insurer": 0.003,
                "criminal_sanctions": 0.002,
                "education": 0.006,
                "ngo": 0.008,
                "other": 0.021,
            },
            client_group={"new_client": 0.24, "outside_services": 0.07, "in_services": 0.69},
            **_OTHER_COMMON,  # type: ignore[arg-type]
        ),
    ),
}
