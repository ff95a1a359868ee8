"""The recommended support level as it is scored: a calibrated multiclass booster and one rule.

Four levels, lightest first: none (no work-ability support needed), then the contract's three
(``data_contracts.booking.SupportLevel``: self-care, consultation, the work-ability support team).
A LightGBM multiclass booster reads the same feature matrix as the alert model
(``features.transformers.feature_matrix``, inputs ``models.alert.BOOSTER_FEATURES``); its softmax
is calibrated with one temperature fitted on data the booster did not see. ``recommend`` turns the
probabilities and the alert into one level (the rule is written once, here).

Fitting lives in ``training.support``; this module holds only what a registered model needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import lightgbm as lgb
import numpy as np

from data_contracts.booking import SupportLevel
from features.transformers import FEATURE_NAMES
from models.alert import BOOSTER_FEATURES, SMALL_BATCH, field_rows


class Recommendation(StrEnum):
    """A recommended support level: none, or one of the contract's three levels, lightest first
    (the order is ordinal: agreement and kappa count how many levels apart two answers are)."""

    NONE = "none"
    SELF_CARE = SupportLevel.SELF_CARE.value
    CONSULTATION = SupportLevel.CONSULTATION.value
    TEAM = SupportLevel.TEAM.value


#: The levels in ordinal order; a level's position is its class index in the booster.
LEVELS: tuple[Recommendation, ...] = tuple(Recommendation)
assert [level.value for level in LEVELS[1:]] == [level.value for level in SupportLevel], (
    "Recommendation must be 'none' followed by the contract's SupportLevel, in its order"
)
_NONE, _SELF_CARE, _CONSULTATION, _TEAM = range(len(LEVELS))
_ORDINAL = np.arange(len(LEVELS), dtype=np.float64)
_BOOSTER_COLUMNS = np.array([FEATURE_NAMES.index(name) for name in BOOSTER_FEATURES])


class RecommendationRule(StrEnum):
    """Which part of the rule decided a recommendation."""

    #: the level nearest the expected level: the most expected agreement (quadratic weights)
    EXPECTED_AGREEMENT = "expected_agreement"
    #: raised to consultation: an alert never comes with less
    ALERT = "alert"
    #: an alerted client whose probability of needing the team reaches the team threshold
    MOST_SIGNS = "most_signs"


RULE_TEXT = (
    "the level nearest the expected level (the most expected agreement with the confirmed level, "
    "quadratic weights), raised to consultation for every alert, and to the work-ability support "
    "team for alerted clients whose probability of needing the team reaches the team threshold"
)


def level_index(levels: np.ndarray) -> np.ndarray:
    """Level names (``Recommendation`` values or plain strings) as ordinal indices 0-3."""
    position = {level.value: index for index, level in enumerate(LEVELS)}
    return np.array([position[str(level)] for level in levels], dtype=np.int64)


def level_names(indices: np.ndarray) -> np.ndarray:
    """Ordinal indices 0-3 as ``Recommendation`` values (an object array of str)."""
    named: np.ndarray = np.asarray([level.value for level in LEVELS], dtype=object)[indices]
    return named


def recommend(
    probabilities: np.ndarray, alert: np.ndarray, team_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """The recommended level (ordinal index) of each client and the part of the rule that chose it.

    1. the level nearest the expected level Σ k·P(k): under quadratic weights the level of the
       most expected agreement with the confirmed one;
    2. an alert never comes with less than consultation;
    3. an alerted client with P(team) at or above ``team_threshold`` (chosen on calibration data)
       is recommended the team.
    """
    probabilities = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
    alert = np.asarray(alert, dtype=bool).reshape(-1)
    expected = probabilities @ _ORDINAL
    level = np.digitize(expected, _ORDINAL[:-1] + 0.5)
    rule = np.full(len(level), RecommendationRule.EXPECTED_AGREEMENT.value, dtype=object)
    raised = alert & (level < _CONSULTATION)
    level[raised] = _CONSULTATION
    rule[raised] = RecommendationRule.ALERT.value
    team = alert & (probabilities[:, _TEAM] >= team_threshold) & (level < _TEAM)
    level[team] = _TEAM
    rule[team] = RecommendationRule.MOST_SIGNS.value
    return level, rule


def contrast(level: int) -> tuple[int, int]:
    """The two levels whose log-odds explain a recommendation: the level against the next lighter
    one, and for none, self-care against none. A positive contribution always points to heavier
    support ("makes a support need more likely")."""
    heavier = max(int(level), _SELF_CARE)
    return heavier, heavier - 1


@dataclass
class RecommendedSupport:
    """One client's recommendation with what explains it."""

    level: Recommendation
    rule: RecommendationRule
    probabilities: dict[str, float]
    #: contributions to log(P(heavier) / P(lighter)) of ``contrast(level)``, per contract field
    contributions: dict[str, float]
    base_value: float
    log_odds: float
    compared: tuple[Recommendation, Recommendation]


@dataclass
class SupportModel:
    """LightGBM multiclass (none, self-care, consultation, team) on the booking features, its
    softmax calibrated by a temperature; the team threshold of ``recommend``."""

    booster: lgb.Booster
    temperature: float = 1.0
    team_threshold: float = 1.0
    #: per level on the calibration data: ECE with and without the temperature, mean predicted
    #: probability and observed share
    calibration: dict[str, float] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=lambda: list(BOOSTER_FEATURES))

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        """The booster's class scores (n, 4) for a feature matrix."""
        inputs = matrix[:, _BOOSTER_COLUMNS]
        raw: np.ndarray = np.asarray(
            self.booster.predict(inputs, raw_score=True, num_threads=_threads(len(inputs)))
        ).reshape(len(inputs), len(LEVELS))
        return raw

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Class probabilities (n, 4): the softmax of the scores divided by the temperature."""
        scaled = np.asarray(raw, dtype=np.float64) / self.temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        exp = np.exp(scaled)
        probabilities: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
        return probabilities

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        return self.calibrate(self.raw_scores(matrix))

    def contributions_blocks(self, matrix: np.ndarray) -> np.ndarray:
        """SHAP contributions (n, 4, inputs + 1): one block per class, each block's inputs then its
        base value, summing to that class's score. LightGBM's multiclass ``pred_contrib`` returns
        the blocks side by side, class by class; one call computes all four."""
        inputs = matrix[:, _BOOSTER_COLUMNS]
        flat = np.asarray(
            self.booster.predict(inputs, pred_contrib=True, num_threads=_threads(len(inputs)))
        )
        blocks: np.ndarray = flat.reshape(len(inputs), len(LEVELS), len(BOOSTER_FEATURES) + 1)
        return blocks

    def explain(
        self, blocks: np.ndarray, alert: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """From contribution blocks and the alert: probabilities, recommended levels, rules, and
        the contributions (base value last) to the calibrated log-odds of ``contrast(level)``."""
        probabilities = self.calibrate(blocks.sum(axis=2))
        levels, rules = self.recommend(probabilities, alert)
        heavier = np.maximum(levels, _SELF_CARE)  # contrast(), for every row at once
        pairs = np.column_stack([heavier, heavier - 1])
        rows = np.arange(len(levels))
        explained = (blocks[rows, pairs[:, 0]] - blocks[rows, pairs[:, 1]]) / self.temperature
        return probabilities, levels, rules, explained, pairs

    def recommend(
        self, probabilities: np.ndarray, alert: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return recommend(probabilities, alert, self.team_threshold)

    def assessments(self, matrix: np.ndarray, alert: np.ndarray) -> list[RecommendedSupport]:
        """One explained recommendation per row of a feature matrix."""
        probabilities, levels, rules, explained, pairs = self.explain(
            self.contributions_blocks(matrix), alert
        )
        by_field = field_rows(explained)
        return [
            RecommendedSupport(
                level=LEVELS[levels[row]],
                rule=RecommendationRule(rules[row]),
                probabilities={
                    level.value: float(probabilities[row, k]) for k, level in enumerate(LEVELS)
                },
                contributions=by_field[row],
                base_value=float(explained[row, -1]),
                log_odds=float(explained[row].sum()),
                compared=(LEVELS[pairs[row, 0]], LEVELS[pairs[row, 1]]),
            )
            for row in range(len(levels))
        ]


def _threads(rows: int) -> int:
    return 1 if rows < SMALL_BATCH else 0
