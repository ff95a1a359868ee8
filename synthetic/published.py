"""Published figures the synthetic cohorts are calibrated to (DOMAIN.md, seed 000).

TOIKE work-ability support centre, clients on 3.9.2018 (Pirkanmaa n=604, Etelä-Pohjanmaa n=164).
These are the clients who *did* need work-ability support. The generator is tested against these
numbers; it does not read them (its own parameters live in ``synthetic.parameters``), so the test is
not circular.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CohortFigures:
    n: int
    mean_age: float
    share_men: float
    share_women: float
    #: employed / entrepreneurs / unemployed, of the three (the slide's categories)
    share_employed: float
    share_entrepreneur: float
    share_unemployed: float
    median_work_ability_score: float
    work_ability_score_range: tuple[int, int]
    #: of the unemployed, the share out of work for over two years
    share_unemployed_over_2_years: float
    #: referral source shares, of all clients
    share_referred_employment_services: float
    share_came_on_own: float
    share_referred_specialised_care: float
    share_referred_primary_care: float


TOIKE_2018: dict[str, CohortFigures] = {
    "pirkanmaa": CohortFigures(
        n=604,
        mean_age=48,
        share_men=0.35,
        share_women=0.65,
        share_employed=0.30,
        share_entrepreneur=0.06,
        share_unemployed=0.64,
        median_work_ability_score=4,
        work_ability_score_range=(0, 9),
        share_unemployed_over_2_years=0.50,
        share_referred_employment_services=0.33,
        share_came_on_own=0.24,
        share_referred_specialised_care=0.18,
        share_referred_primary_care=0.13,
    ),
    "etela-pohjanmaa": CohortFigures(
        n=164,
        mean_age=48,
        share_men=0.43,
        share_women=0.57,
        share_employed=0.23,
        share_entrepreneur=0.03,
        share_unemployed=0.74,
        median_work_ability_score=4,
        work_ability_score_range=(0, 9),
        share_unemployed_over_2_years=0.63,
        share_referred_employment_services=0.34,
        share_came_on_own=0.04,
        share_referred_specialised_care=0.26,
        share_referred_primary_care=0.19,
    ),
}
