"""Training artefacts for people: calibration plot, SHAP importance, support-level tables, the
model card."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from data_contracts.booking import CONTRACT_VERSION
from data_contracts.contract import PROTECTED_ATTRIBUTES
from models.evaluation import FairnessReport
from models.support import RULE_TEXT
from training.alert import HAND_RULE

if TYPE_CHECKING:
    from models.segmentation import SegmentationModel
    from training.config import TrainConfig
    from training.support import SupportEvaluation


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no screen on servers
    import matplotlib.pyplot as plt

    return plt


def calibration_plot(y: np.ndarray, probability: np.ndarray, out: Path, bins: int = 10) -> None:
    plt = _pyplot()
    order = np.argsort(probability, kind="stable")
    chunks = [c for c in np.array_split(order, bins) if len(c)]
    predicted = [probability[c].mean() for c in chunks]
    observed = [y[c].mean() for c in chunks]
    figure, axis = plt.subplots(figsize=(5, 5))
    top = max(max(predicted), max(observed)) * 1.05
    axis.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect calibration")
    axis.plot(predicted, observed, marker="o", label="alert model (test set)")
    axis.set_xlabel("mean predicted probability of need")
    axis.set_ylabel("observed share needing support")
    axis.set_title("Calibration, equal-count bins")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def shap_importance(contributions: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Mean |SHAP| per contract field (log-odds), drawn with shap's own summary bar plot."""
    import shap

    plt = _pyplot()
    shap.summary_plot(
        contributions.to_numpy(),
        feature_names=list(contributions.columns),
        plot_type="bar",
        show=False,
        max_display=len(contributions.columns),
    )
    plt.title("Global SHAP importance by booking field (mean |log-odds|)")
    plt.tight_layout()
    plt.savefig(out, dpi=100)
    plt.close("all")
    importance = contributions.abs().mean().sort_values(ascending=False)
    return pd.DataFrame({"field": importance.index, "mean_abs_shap": importance.to_numpy()})


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = []
    for values in frame.itertuples(index=False):
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in values]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows])


def write_support_tables(support: SupportEvaluation, out: Path) -> None:
    """The support-level evaluation as CSV files beside the model card."""
    support.distribution.to_csv(out / "support_distribution.csv", index=False)
    support.calibration.to_csv(out / "support_calibration.csv", index=False)
    support.team_selection.to_csv(out / "support_team_threshold.csv", index=False)
    for name, table in support.confusion.items():
        table.to_csv(out / f"support_confusion_{name}.csv")


_COMPARED = {
    "": "this model's rule",
    "_segment_mode": "segment mode, every client (today's rule)",
    "_segment_mode_alerted": "segment mode where the alert is raised, none elsewhere",
    "_segment_mode_alerted_floor": "the same, raised to consultation for every alert",
    "_expected_agreement_only": "this model's expected-agreement level alone (no alert, no team rule)",
}


def support_section(support: SupportEvaluation) -> str:
    """The model card's section on the recommended support level."""
    m = support.metrics
    agreement = pd.DataFrame(
        [
            {
                "rule": text,
                "weighted kappa (quadratic)": m[f"support_kappa_quadratic{suffix}"],
                "exact agreement": m[f"support_agreement{suffix}"],
            }
            for suffix, text in _COMPARED.items()
        ]
    )
    confusions = "\n\n".join(
        f"{_COMPARED['' if name == 'model_rule' else '_' + name].capitalize()} (rows confirmed, "
        f"columns recommended; test-set counts):\n\n{_table(table.reset_index())}"
        for name, table in support.confusion.items()
    )
    rules = ", ".join(
        f"{key.removeprefix('support_rule_share_')} {value:.1%}"
        for key, value in m.items()
        if key.startswith("support_rule_share_")
    )
    return f"""## Recommended support level
- Model: LightGBM multiclass of the confirmed level (none where no support was needed) on the same
  features as the alert; its softmax calibrated on the calibration set (temperature
  {m["support_temperature"]:.3f}).
- Rule: {RULE_TEXT}.
- Team threshold: P(team) at least {m["support_team_threshold"]:.3f}, chosen on the calibration set
  for the highest weighted kappa.
- What decided (test set): {rules}. Alerts recommended less than consultation:
  {int(m["support_alerts_below_consultation"])}.
- The segment's level (`segment.support_level`) is still given: it describes the profile (today's
  segment-mode rule), not the client.

How often each level is recommended (test set, shares), against the confirmed levels:

{_table(support.distribution)}

Agreement with the confirmed level (test set; kappa 0 is chance, 1 perfect; quadratic weights
count how many levels apart the answers are):

{_table(agreement)}

{confusions}

Calibration per level (test set, one level against the rest; ECE over ten equal-count bins, before
the temperature too):

{_table(support.calibration, 4)}
"""


def model_card(
    *,
    config: TrainConfig,
    rows: dict[str, int],
    fingerprint: str,
    metrics: dict[str, dict[str, float]],
    importance: pd.DataFrame,
    segmentation: SegmentationModel,
    fairness: FairnessReport,
    threshold: float,
    support: SupportEvaluation,
) -> str:
    shown = [
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "precision_at_5pct",
        "recall_at_5pct",
        "precision_at_10pct",
        "recall_at_10pct",
    ]
    comparison = pd.DataFrame(
        [{"model": name, **{m: values[m] for m in shown}} for name, values in metrics.items()]
    )
    best = metrics["lightgbm"]
    truth = ""
    if "true_risk_roc_auc" in best:
        truth = (
            f"On this synthetic data the best achievable ROC AUC (the generator's `true_risk`) is "
            f"{best['true_risk_roc_auc']:.3f} and PR AUC {best['true_risk_pr_auc']:.3f}; the model is "
            f"{best['roc_auc_gap_to_true_risk']:.3f} ROC AUC below it."
        )
    segments = segmentation.profile_table()[
        ["segment_id", "name_fi", "name_en", "share", "need_rate", "support_level", "service_path"]
    ]
    verdict = "within" if fairness.passed else "OUTSIDE"
    breaches = "\n".join(f"- {b}" for b in fairness.breaches()) or "- none"
    differences = fairness.differences[fairness.differences["metric"] != "alert_rate"]
    return f"""# Model card: Kykytutka `{config.name}`

## Intended use
Advisory screening at appointment booking in Finnish health and social services centres: an
**indicator alert** that a working-age client may need work-ability support, a **recommended
support level** for the client (none, self-care, consultation, work-ability support team; never less
than consultation with an alert), and a **client segment** with its typical support level and a
service path. Staff decide; the model never decides alone. Not for: denying or rationing services, or any
use outside booking-time screening.

## Users
Front-desk staff and work-ability coordinators (through the booking system), data scientists of the
wellbeing services county (MLflow), auditors (decision records and this card).

## Data
- Booking-record contract version {CONTRACT_VERSION}; training data fingerprint (SHA-256)
  `{fingerprint}`.
- Rows: {rows["train"]:,} train, {rows["calibration"]:,} calibration (isotonic or Platt, data the
  booster did not see), {rows["test"]:,} test.
- Source: `{config.data.file or "synthetic cohorts " + ", ".join(config.data.regions)}`. Synthetic
  data are calibrated to the published TOIKE cohort (docs/synthetic-data.md); they are not real
  clients.
- Protected attributes ({", ".join(PROTECTED_ATTRIBUTES)}) and region are **not model inputs**; they
  are used only to measure fairness below.

## Performance (held-out test set)
{_table(comparison)}

Baselines: `hand_rule` is today's rule of thumb ({HAND_RULE}); `logistic` is a logistic regression
on the same features. {truth}

Alert threshold: probability {threshold:.4f}, set so that {config.alert_capacity:.0%} of bookings are
alerted (the team's capacity), not a fixed 0.5.

## What drives the alert (global SHAP importance, mean |log-odds|)
{_table(importance.head(10), 4)}

{support_section(support)}
## Segments
{_table(segments)}

Chosen by silhouette among {list(config.segmentation.candidate_counts)} segments, provided bootstrap
refits agree (adjusted Rand index):

{_table(segmentation.selection)}

## Fairness (test set, alert at the capacity threshold)
Limits: true-positive-rate difference at most
{config.fairness.max_true_positive_rate_difference:.2f}, false-positive-rate difference at most
{config.fairness.max_false_positive_rate_difference:.2f} between groups of at least
{config.fairness.min_group_size} clients. Result: **{verdict} limits**.

Breaches:
{breaches}

{_table(differences)}

Alert rates differ between groups where the need differs (for example by age); rates by group:

{_table(fairness.table)}

## Limits
- Trained and tested on synthetic data; before any real use it must be retrained and re-validated
  on the county's own outcomes, and its fairness re-measured there.
- The outcome is a coordinator's confirmation of need, which reflects who was seen; people who never
  reached services are under-represented in any real label.
- Probabilities are calibrated on the training population; a shifted population needs monitoring
  (drift) and recalibration.
- Advisory only (EU AI Act high-risk use, Annex III 5(a)): every decision is recorded with model
  version, inputs and reasons, and staff can override.
"""


def proxy_section(proxy: pd.DataFrame) -> str:
    """The proxy audit in the card: how well the model's inputs tell each protected group."""
    if proxy.empty:
        return "\n## Proxy audit\n\nNo protected group was large enough to measure.\n"
    top = proxy.sort_values("auc", ascending=False).groupby("attribute").head(3)
    return (
        "\n## Proxy audit\n\n"
        "How well each model input alone, and all of them together, tells a group of a protected "
        "attribute from the rest on the held-out test set (one-vs-rest AUC, 0.5 = no information; "
        "normalised mutual information). The three strongest per attribute; the whole table is "
        "`proxy_audit.csv`. Promotion refuses a model over the limits of `proxy` in the config.\n\n"
        + _table(top[["attribute", "feature", "group", "auc", "mutual_information", "n"]])
        + "\n"
    )
