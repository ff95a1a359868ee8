"""The auditor's model and monitoring pages: every registered version (aliases, metrics, the
fairness and subgroup error tables, the proxy audit, the model card) and the monitoring runs
(verdicts, reports, trend charts), read from MLflow by ``serving.pages.registry_data``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from markdown_it import MarkdownIt
from mlflow.exceptions import MlflowException

from features.texts import NO, YES, Text
from serving.pages import registry_data
from serving.pages.charts import decimal_mark, trend_svg
from serving.pages.render import language_of, page
from serving.pages.session import signed_in
from serving.security import Role

router = APIRouter(include_in_schema=False)
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")  # raw HTML is escaped
#: the sandbox a monitoring report is shown in: its own scripts, nothing from outside, no
#: access to the service's cookies or pages (an opaque origin)
REPORT_POLICY = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data:; font-src data:"
)

# fmt: off
TEXTS: dict[str, Text] = {
    "models_title": Text("Mallit", "Modeller", "Models"),
    "no_versions": Text("Yhtään malliversiota ei ole rekisteröity.", "Ingen modellversion har registrerats.", "No model version has been registered."),
    "version": Text("Versio", "Version", "Version"),
    "aliases": Text("Aliasnimet", "Aliasnamn", "Aliases"),
    "created": Text("Rekisteröity", "Registrerad", "Registered"),
    "metrics": Text("Mittarit", "Mått", "Metrics"),
    "all_metrics": Text("Kaikki mittarit", "Alla mått", "All metrics"),
    "fairness": Text("Oikeudenmukaisuus ryhmittäin", "Rättvisa per grupp", "Fairness by group"),
    "proxy": Text("Korvikemuuttujien tarkastus", "Granskning av proxyvariabler", "Proxy audit"),
    "passed": Text("läpäisty", "godkänd", "passed"),
    "failed": Text("ei läpäisty", "underkänd", "failed"),
    "card": Text("Mallikortti", "Modellkort", "Model card"),
    "monitoring_title": Text("Seuranta", "Övervakning", "Monitoring"),
    "no_runs": Text("Seurantaa ei ole vielä ajettu.", "Övervakningen har inte körts ännu.", "Monitoring has not run yet."),
    "run": Text("Ajo", "Körning", "Run"),
    "verdict": Text("Päätelmä", "Slutsats", "Verdict"),
    "report": Text("Raportti", "Rapport", "Report"),
    "trends": Text("Kehitys ajokerroittain", "Utveckling per körning", "Trends across runs"),
    "chart_drift": Text("Jakaumien muutos (etäisyys)", "Förändring i fördelningar (avstånd)", "Drift distances"),
    "chart_alert_rate": Text("Hälytysosuus", "Andel larm", "Alert rate"),
    "chart_group_gaps": Text("Ryhmien väliset erot", "Skillnader mellan grupper", "Group gaps"),
    "chart_override_rates": Text("Poikkeamisosuudet", "Andel avvikelser", "Override rates"),
    "nothing": Text("Ei näytettäviä tietoja.", "Inga uppgifter att visa.", "Nothing to show."),
    "fairness.sex": Text("Sukupuoli", "Kön", "Sex"),
    "fairness.age_band": Text("Ikäryhmä", "Åldersgrupp", "Age band"),
    "fairness.first_language": Text("Äidinkieli", "Modersmål", "First language"),
    "fairness.region": Text("Hyvinvointialue", "Välfärdsområde", "Wellbeing services county"),
    "fairness_differences": Text("Ryhmien väliset erot ja rajat", "Gruppskillnader och gränsvärden", "Group differences and limits"),
    "proxy_audit": Text("Korvikemuuttujat", "Proxyvariabler", "Proxy variables"),
    "col.attribute": Text("Ominaisuus", "Egenskap", "Attribute"),
    "col.group": Text("Ryhmä", "Grupp", "Group"),
    "col.n": Text("Asiakkaita", "Klienter", "Clients"),
    "col.positives": Text("Tuen tarvitsijoita", "Med stödbehov", "Needing support"),
    "col.alert_rate": Text("Hälytysosuus", "Andel larm", "Alert rate"),
    "col.true_positive_rate": Text("Herkkyys (TPR)", "Sensitivitet (TPR)", "True positive rate (TPR)"),
    "col.false_positive_rate": Text("Väärien positiivisten osuus (FPR)", "Andel falskt positiva (FPR)", "False positive rate (FPR)"),
    "col.metric": Text("Mittari", "Mått", "Metric"),
    "col.limit": Text("Raja", "Gräns", "Limit"),
    "col.difference": Text("Ero", "Skillnad", "Difference"),
    "col.z": Text("z", "z", "z"),
    "col.passed": Text("Rajoissa", "Inom gränserna", "Within limits"),
    "col.feature": Text("Muuttuja", "Variabel", "Feature"),
    "col.auc": Text("AUC", "AUC", "AUC"),
    "col.mutual_information": Text("Keskinäisinformaatio", "Ömsesidig information", "Mutual information"),
    "col.auc_noise": Text("AUC (kohina)", "AUC (brus)", "AUC (noise)"),
}
# fmt: on
#: the metrics shown first for each version (all are listed below them)
KEY_METRICS = (
    "test_pr_auc",
    "test_roc_auc",
    "test_brier",
    "test_alert_rate",
    "fairness_passed",
    "proxy_passed",
)  # fmt: skip


def _texts(request: Request) -> Any:
    """The page's own texts; a key it has no text for (a column a newer release logs) as is."""
    language = language_of(request)
    return lambda key: TEXTS[key][language] if key in TEXTS else key.removeprefix("col.")


def _cell(value: Any, language: str) -> str:
    """A table cell: whole numbers as such, others to three significant digits (never 1e+03),
    booleans as yes or no, with the reader's decimal mark."""
    if isinstance(value, bool) or value in ("True", "False"):
        return (YES if value in (True, "True") else NO)[language]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}".replace(",", "\u00a0")
    if isinstance(value, float):
        text = f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.4f}"
        return text.replace(".", ",") if language in ("fi", "sv") else text
    return "–" if value is None else str(value)


@router.get("/ui/models")
async def models(request: Request) -> HTMLResponse:
    session = signed_in(request, Role.AUDITOR)
    try:
        versions = await asyncio.to_thread(registry_data.model_versions)
    except (MlflowException, OSError):
        return page(request, "message.html", session, 503, message="unavailable")
    cards = {v.version: MARKDOWN.render(v.model_card) if v.model_card else "" for v in versions}
    return page(
        request, "models.html", session, versions=versions, cards=cards, rt=_texts(request),
        cell=lambda value: _cell(value, language_of(request)),
        key_metrics=KEY_METRICS,
    )  # fmt: skip


@router.get("/ui/monitoring")
async def monitoring(request: Request) -> HTMLResponse:
    session = signed_in(request, Role.AUDITOR)
    try:
        runs = await asyncio.to_thread(registry_data.monitor_runs)
    except (MlflowException, OSError):
        return page(request, "message.html", session, 503, message="unavailable")
    texts = _texts(request)
    ordered = sorted(runs, key=lambda run: run.started)
    labels = [run.started.strftime("%Y-%m-%d %H:%M") for run in ordered]
    mark = "," if language_of(request) in ("fi", "sv") else "."
    with decimal_mark(mark):
        charts = [
            trend_svg(
                labels,
                series,
                title=texts(f"chart_{name}"),
                y_label=texts(f"chart_{name}"),
                empty_text=texts("nothing"),
            )
            for name, series in registry_data.monitor_trends(runs).items()
        ]
    return page(request, "monitoring.html", session, runs=runs, charts=charts, rt=texts)


@router.get("/ui/monitoring/{run_id}/{path:path}")
async def report(request: Request, run_id: str, path: str) -> Response:
    session = signed_in(request, Role.AUDITOR)
    try:
        found = await asyncio.to_thread(registry_data.report_file, run_id, path)
    except (MlflowException, OSError):
        found = None
    if found is None:
        return page(request, "message.html", session, 404, message="not_found")
    return FileResponse(
        found,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_POLICY, "X-Content-Type-Options": "nosniff",
                 "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )  # fmt: skip
