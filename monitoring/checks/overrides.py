"""Do staff still judge the card? What they did with the cards of an audit window (the CDS Hooks
feedback: accepted, or overridden with a reason code), overall, by override reason, by segment and
by sex, age band and first language.

It breaches two ways. **Automation bias**: over at least ``min_cards`` cards with feedback, staff
overrode almost none (a share under ``min_override_share``). In Poland staff changed the computed
profile in under 1 % of cases and the scheme was struck down (DOMAIN.md, "What went wrong
elsewhere"): advice that is never overruled has stopped being advice. And **a group difference**:
one group's cards are overridden more often than another's, by more than
``max_override_share_difference`` and ``min_z`` standard errors from zero (the rule of the
fairness checks: every pair of groups of an attribute is tested, groups under ``min_group_size``
are shown but not compared). The alert may fit that group worse, or staff may judge its cards
differently; either asks for a look.

The feedback sits in the audit store beside the decisions, so the check runs when the current
records are an audit window (``--current audit:7d``); a booking file has no feedback, which it says,
and it does not breach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from audit.windows import AuditReadError, read_feedback
from features.groups import age_band
from models.config import Frozen
from models.evaluation import proportion_variance, widest_gap
from monitoring.checks.base import CheckContext, CheckResult, small_groups_hidden
from monitoring.sources import MonitorInputError

#: the protected attributes whose groups' override shares are compared
ATTRIBUTES = ("sex", "age_band", "first_language")
OVERRIDDEN = "overridden"
UNSPECIFIED = "unspecified"  # an override sent without a reason code
COLUMNS = ["dimension", "group", "cards", "overridden", "override_share"]


class OverrideLimits(Frozen):
    """When staff override too seldom, or one group's cards more often than another's."""

    #: automation bias is judged only over at least this many cards with staff feedback
    min_cards: int = Field(200, ge=1)
    #: ...and breaches when a smaller share of them than this was overridden
    min_override_share: float = Field(0.01, ge=0, le=1)
    #: the largest allowed difference in override share between two groups of one attribute
    max_override_share_difference: float = Field(0.10, gt=0, le=1)
    #: groups with fewer cards with feedback are shown but not compared
    min_group_size: int = Field(100, ge=1)
    #: a difference over its limit breaches only when it is also this many standard errors from
    #: zero, so that a small group's or a short window's noise is not reported as unfairness
    min_z: float = Field(3.0, ge=0)


@dataclass
class Overrides:
    """What staff did with the cards that got feedback."""

    cards: int
    overridden: int
    #: COLUMNS: one row overall, then by reason, segment, sex, age band and first language
    table: pd.DataFrame
    #: one per attribute compared: attribute, high, low, share_high, share_low, difference, z,
    #: limit, passed
    checks: list[dict[str, Any]]
    automation_bias: bool

    @property
    def share(self) -> float | None:
        return self.overridden / self.cards if self.cards else None

    def breaches(self, limits: OverrideLimits) -> list[str]:
        found = []
        if self.automation_bias:
            found.append(
                f"automation bias: staff overrode {self.overridden} of {self.cards:,} cards "
                f"({self.share or 0:.1%}, limit {limits.min_override_share:.1%}): they may be "
                "following the alert without judging it (in Poland staff changed the profile in "
                "under 1 % of cases, DOMAIN.md); ask the centres how the cards are used"
            )
        found += [
            f"staff override the cards of {c['attribute']}={c['high']} more often than of "
            f"{c['attribute']}={c['low']}: {c['share_high']:.1%} against {c['share_low']:.1%} "
            f"({c['difference'] * 100:.1f} pp, limit {c['limit'] * 100:.1f} pp, z {c['z']:.1f}); "
            "ask why: the alert may fit one group worse, or staff judge one group's cards "
            "differently (overrides.csv: by reason, segment and group)"
            for c in self.checks
            if not c["passed"]
        ]
        return found


def overrides(feedback: pd.DataFrame, limits: OverrideLimits) -> Overrides:
    """Override shares of ``feedback`` (audit.windows.read_feedback's frame) and their checks."""
    overridden = (feedback["outcome"] == OVERRIDDEN).to_numpy(dtype=bool)
    cards = len(feedback)
    rows: list[dict[str, Any]] = [
        {"dimension": "all", "group": "all", "cards": cards, "overridden": int(overridden.sum())}
    ]
    reasons = feedback.loc[overridden, "override_reason"].fillna(UNSPECIFIED).astype(str)
    rows += [
        {"dimension": "reason", "group": reason, "cards": cards, "overridden": int(count)}
        for reason, count in reasons.value_counts().sort_index().items()
    ]
    groups = {
        "segment": feedback["segment_id"].astype(str),
        "sex": feedback["sex"].astype(str),
        "age_band": pd.Series(age_band(feedback["age"]), index=feedback.index),
        "first_language": feedback["first_language"].astype(str),
    }
    for dimension, group in groups.items():
        counted = (
            pd.DataFrame({"group": group, "overridden": overridden})
            .groupby("group", observed=True, sort=True)["overridden"]
            .agg(["size", "sum"])
        )
        rows += [
            {"dimension": dimension, "group": str(name), "cards": int(n), "overridden": int(k)}
            for name, n, k in zip(counted.index, counted["size"], counted["sum"], strict=True)
        ]
    table = pd.DataFrame(rows, columns=COLUMNS[:-1])
    table["override_share"] = table["overridden"] / table["cards"].where(table["cards"] > 0)
    checks = [gap for attribute in ATTRIBUTES if (gap := _widest(table, attribute, limits))]
    bias = bool(cards >= limits.min_cards and overridden.sum() / cards < limits.min_override_share)
    return Overrides(cards, int(overridden.sum()), table, checks, bias)


def _widest(table: pd.DataFrame, attribute: str, limits: OverrideLimits) -> dict[str, Any] | None:
    """The pair of ``attribute``'s groups that decides its check; None with fewer than two
    groups of ``min_group_size`` cards."""
    eligible = table[(table["dimension"] == attribute) & (table["cards"] >= limits.min_group_size)]
    if len(eligible) < 2:
        return None
    names = eligible["group"].tolist()
    share = eligible["override_share"].to_numpy(dtype=float)
    variance = proportion_variance(share, eligible["cards"].to_numpy(dtype=float))
    limit = limits.max_override_share_difference
    gap = widest_gap(names, share, variance, limit, limits.min_z)
    by_group = dict(zip(names, share.tolist(), strict=True))
    return {
        "attribute": attribute,
        "high": gap.high,
        "low": gap.low,
        "share_high": by_group[gap.high],
        "share_low": by_group[gap.low],
        "difference": gap.difference,
        "z": gap.z,
        "limit": limit,
        "passed": gap.passed,
    }


def metric_name(*parts: str) -> str:
    """An MLflow metric name from ``parts`` (groups such as ``60+`` and reason codes sent by an
    EHR may hold characters MLflow refuses)."""
    return ".".join(re.sub(r"[^\w.\- ]", "_", part.replace("+", "plus")) for part in parts)


class OverridesCheck:
    name = "overrides"
    limits_type = OverrideLimits
    files = ("overrides.csv",)

    def run(self, context: CheckContext, limits: OverrideLimits) -> CheckResult:
        span = context.current.audit
        if span is None:
            return CheckResult(
                summary={"overrides": None},
                lines=[
                    "staff feedback: none (a booking file; feedback is read with audit:<window>)"
                ],
            )
        try:
            feedback = read_feedback(span.url, span.since, span.until)
        except AuditReadError as exc:
            raise MonitorInputError(str(exc)) from None
        return report(overrides(feedback, limits), len(context.current.frame), limits)


def report(found: Overrides, decisions: int, limits: OverrideLimits) -> CheckResult:
    """The check's result: ``found`` among the window's ``decisions`` (bookings assessed)."""
    shown = small_groups_hidden(found.table, ["cards"])
    metrics = {
        "overrides.cards": float(found.cards),
        "overrides.feedback_coverage": found.cards / decisions if decisions else 0.0,
    }
    if found.share is not None:
        metrics["overrides.share"] = found.share
    rows: list[dict[Any, Any]] = shown.to_dict(orient="records")
    metrics |= {
        metric_name("overrides.share", row["dimension"], row["group"]): float(row["override_share"])
        for row in rows
        if row["dimension"] != "all" and not np.isnan(row["override_share"])
    }
    metrics |= {
        f"overrides.share_difference.{c['attribute']}": c["difference"] for c in found.checks
    }
    result = CheckResult(
        breaches=found.breaches(limits),
        metrics=metrics,
        tables={"overrides": shown},
        page_tables={"override_checks": pd.DataFrame(found.checks)} if found.checks else {},
        summary={
            "overrides": {
                "decisions": decisions,
                "cards_with_feedback": found.cards,
                "overridden": found.overridden,
                "override_share": found.share,
                "automation_bias": found.automation_bias,
                "group_differences": found.checks,
            }
        },
        params={
            "min_override_cards": limits.min_cards,
            "min_override_share": limits.min_override_share,
            "max_override_share_difference": limits.max_override_share_difference,
        },
    )
    if not found.cards:
        result.lines.append(f"staff feedback: none on the window's {decisions:,} cards")
        result.notes.append(
            "no staff feedback came back for this window's cards, so automation bias cannot be "
            "seen: is the booking system sending the CDS Hooks feedback?"
        )
        return result
    reasons = shown[shown["dimension"] == "reason"]
    line = f"staff feedback on {found.cards:,} of the {decisions:,} cards: {found.share:.1%} overridden"
    if not reasons.empty:
        line += " (" + ", ".join(f"{r.group} {r.override_share:.1%}" for r in reasons.itertuples())
        line += ")"
    result.lines.append(line)
    if found.checks:
        result.lines.append(
            "override share differences: "
            + ", ".join(f"{c['attribute']} {c['difference'] * 100:.1f} pp" for c in found.checks)
            + f" (limit {limits.max_override_share_difference * 100:.1f} pp)"
        )
    if found.cards < limits.min_cards:
        result.notes.append(
            f"only {found.cards} cards with staff feedback: automation bias is judged from "
            f"{limits.min_cards}"
        )
    return result
