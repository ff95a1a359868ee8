"""The monitoring checks (the protocol: ``base.Check``) and their registry.

A new check is a module here with a class that has the protocol's ``name``, ``limits_type``,
``files`` and ``run``, one line in ``CHECKS`` below (or ``register`` from elsewhere), and its
entry in the configuration's ``checks`` and ``limits``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from monitoring.checks.alert_rate_shift import AlertRateShiftCheck
from monitoring.checks.base import Check, CheckContext, CheckResult
from monitoring.checks.feature_drift import FeatureDriftCheck
from monitoring.checks.outcome_fairness import OutcomeFairnessCheck
from monitoring.checks.overrides import OverridesCheck
from monitoring.checks.prediction_drift import PredictionDriftCheck
from monitoring.checks.proxy_audit import ProxyAuditCheck
from monitoring.checks.quality import QualityCheck

__all__ = ["CHECKS", "Check", "CheckContext", "CheckResult", "register"]

C = TypeVar("C", bound=Check[Any])

#: every check a configuration may name, by name, in the order they run by default
CHECKS: dict[str, Check[Any]] = {
    check.name: check
    for check in (
        FeatureDriftCheck(),
        PredictionDriftCheck(),
        QualityCheck(),
        AlertRateShiftCheck(),
        OutcomeFairnessCheck(),
        OverridesCheck(),
        ProxyAuditCheck(),
    )
}


def register(check: C) -> C:
    """Make ``check`` one that a configuration may name (after the built-in ones by default)."""
    if check.name in CHECKS:
        raise ValueError(f"a check named {check.name!r} is registered already")
    CHECKS[check.name] = check
    return check
