"""The ``kykytutka`` command: one entry point, one subcommand per job."""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from kykytutka.audit_cli import audit as audit_commands

app = typer.Typer(
    name="kykytutka",
    help="Early detection of work-ability support needs at appointment booking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _quiet_telemetry() -> None:
    """Runs before every subcommand: this service never sends usage telemetry anywhere."""
    import os

    for name in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "EVIDENTLY_DISABLE_TELEMETRY"):
        os.environ.setdefault(name, "true")


class SynthRegion(StrEnum):
    PIRKANMAA = "pirkanmaa"
    ETELA_POHJANMAA = "etela-pohjanmaa"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def write_frame(frame: object, out: Path) -> None:
    """Write a frame as CSV or Parquet, chosen by the file's extension."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif suffix == ".csv":
        csv = frame.copy()
        csv["booking_time"] = csv["booking_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        csv.to_csv(out, index=False)
    else:
        raise _fail(f"--out: unsupported file type {out.suffix!r}; use .csv or .parquet")


@app.command()
def synth(
    region: Annotated[SynthRegion, typer.Option(help="Region whose published figures to follow.")],
    rows: Annotated[int, typer.Option(min=1, help="Number of booking records.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same file.")] = 0,
    out: Annotated[Path, typer.Option(help="Output file, .csv or .parquet.")] = Path(
        "data/cohort.parquet"
    ),
) -> None:
    """Generate a synthetic booking cohort calibrated to the published TOIKE figures."""
    from synthetic.cohort import generate_cohort

    if out.suffix.lower() not in (".csv", ".parquet"):
        raise _fail(f"--out: unsupported file type {out.suffix!r}; use .csv or .parquet")
    started = time.perf_counter()
    frame = generate_cohort(region.value, rows, seed)
    write_frame(frame, out)
    need = frame["needs_support"].astype(bool)
    typer.echo(
        f"wrote {len(frame):,} synthetic booking records of {region.value} to {out} "
        f"({need.mean():.1%} need support) in {time.perf_counter() - started:.1f} s"
    )


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Booking records, .csv or .parquet.")],
    max_errors: Annotated[int, typer.Option(help="How many violations to print.")] = 50,
) -> None:
    """Check a booking file against the contract: exit 0 if valid, 1 with a report if not."""
    from data_contracts.validation import ContractError, load_bookings

    try:
        frame = load_bookings(file)
    except ContractError as error:
        typer.echo(error.report(limit=max_errors), err=True)
        raise typer.Exit(1) from None
    from data_contracts.booking import CONTRACT_VERSION

    typer.echo(f"{file}: {len(frame):,} booking records valid against contract {CONTRACT_VERSION}")


@app.command()
def contract(
    markdown: Annotated[bool, typer.Option(help="The field documentation as Markdown.")] = False,
    json_schema: Annotated[
        bool, typer.Option(help="The JSON Schema of one booking record.")
    ] = False,
) -> None:
    """Show the booking-record contract: its version and fields, as Markdown or JSON Schema."""
    from data_contracts.booking import CONTRACT_VERSION, BookingRecord
    from data_contracts.contract import CONTRACT_FIELDS, contract_markdown

    if markdown:
        sys.stdout.write(contract_markdown())
    elif json_schema:
        typer.echo(json.dumps(BookingRecord.model_json_schema(), indent=2, ensure_ascii=False))
    else:
        typer.echo(f"booking-record contract {CONTRACT_VERSION}")
        for field in CONTRACT_FIELDS:
            typer.echo(f"  {field.name:28s} {field.role:11s} {field.kind}")


@app.command()
def texts(
    language: Annotated[str, typer.Option(help="fi, sv or en.")] = "fi",
) -> None:
    """Print every sentence people read in one language, as Markdown (docs/reasons-*.md)."""
    from kykytutka.texts import TITLES, golden_table

    if language not in TITLES:
        raise _fail(f"--language: {language!r} is not one of fi, sv, en")
    sys.stdout.write(golden_table(language))


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="Training configuration, experiments/<name>.yaml.")],
    data: Annotated[
        Path | None, typer.Option(help="Labelled booking records (.csv or .parquet).")
    ] = None,
    audit_url: Annotated[
        str | None,
        typer.Option(
            help="Train on the audit store's assessments whose outcomes coordinators confirmed "
            "(POST /v1/assessments/{id}/outcome), e.g. sqlite:///.kykytutka/audit.db."
        ),
    ] = None,
) -> None:
    """Train the alert and segmentation models, log them to MLflow and register a challenger."""
    from audit.windows import AuditReadError, labelled_bookings
    from data_contracts.validation import ContractError
    from training.config import ConfigError, load_config
    from training.train import train as run_training

    if data is not None and audit_url is not None:
        raise _fail("give --data or --audit-url, not both")
    try:
        settings = load_config(config)
        if audit_url is not None:
            records = labelled_bookings(audit_url)
            result = run_training(
                settings, records=records, source=f"audit outcomes ({len(records)})"
            )
        else:
            result = run_training(settings, data_file=data)
    except (ConfigError, ContractError, AuditReadError) as error:
        raise _fail(str(error)) from None
    metrics = result.metrics
    typer.echo(
        f"run {result.run_id}: registered model version {result.model_version} as challenger"
    )
    typer.echo(f"{'model':10s} {'ROC AUC':>8s} {'PR AUC':>8s} {'Brier':>8s} {'recall@10%':>10s}")
    for name, values in metrics.items():
        typer.echo(
            f"{name:10s} {values['roc_auc']:8.4f} {values['pr_auc']:8.4f} "
            f"{values['brier']:8.4f} {values['recall_at_10pct']:10.4f}"
        )
    best = metrics["lightgbm"]
    if "true_risk_roc_auc" in best:
        typer.echo(
            f"true_risk  {best['true_risk_roc_auc']:8.4f} {best['true_risk_pr_auc']:8.4f}"
            f"   (best achievable on synthetic data)"
        )
    typer.echo(
        f"segments: {result.segments['segments']} (silhouette "
        f"{result.segments['silhouette']:.3f}, bootstrap ARI {result.segments['stability_ari']:.3f})"
    )
    fairness = (
        "within limits"
        if result.fairness_passed
        else "BREACHED: " + "; ".join(result.fairness_breaches)
    )
    typer.echo(f"fairness: {fairness}")
    proxy = "; ".join(result.proxy_breaches) if result.proxy_breaches else "within limits"
    typer.echo(f"proxy audit: {proxy if not result.proxy_breaches else 'BREACHED: ' + proxy}")
    typer.echo(f"took {result.timings['total_s']:.0f} s")


@app.command()
def promote(
    metric: Annotated[
        str, typer.Option(help="Test metric the challenger must beat the champion on.")
    ] = "pr_auc",
) -> None:
    """Move the 'champion' alias to the challenger if it is better and fair; else refuse and say why."""
    from models.evaluation import CAPACITIES
    from models.registry import use_tracking
    from training.registry import promote as run_promotion

    allowed = {"roc_auc", "pr_auc", "brier", "ece"} | {
        f"recall_at_{round(c * 100)}pct" for c in CAPACITIES
    }
    if metric not in allowed:
        raise _fail(f"--metric: unknown metric {metric!r}; choose one of {sorted(allowed)}")
    decision = run_promotion(use_tracking(), metric)
    typer.echo(decision.reason, err=not decision.promoted)
    if not decision.promoted:
        raise typer.Exit(1)


@app.command()
def compare(
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "kykytutka",
) -> None:
    """Print a table of the runs of an experiment, newest first."""
    from models.registry import use_tracking
    from training.registry import compare_runs

    try:
        table = compare_runs(use_tracking(), experiment)
    except ValueError as error:
        raise _fail(str(error)) from None
    if table.empty:
        typer.echo(f"experiment {experiment!r} has no runs")
        return
    typer.echo(table.to_string(index=False))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Start the scoring API (FastAPI under uvicorn); it loads models:/kykytutka@champion.
    Its limits and the reverse proxy in front: docs/deployment.md."""
    import os

    from pydantic import ValidationError

    from serving.server import run, uvicorn_config
    from serving.settings import ServiceSettings

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # stderr, past the log

    try:
        settings = ServiceSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"KYKYTUTKA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise _fail(f"cannot start: {problems}") from None
    run(uvicorn_config(settings, host=host, port=port, workers=workers))


@app.command()
def apikey(
    name: Annotated[str, typer.Option(help="Who the key is for, e.g. the booking system's name.")],
    role: Annotated[
        str | None, typer.Option(help="booking-system, auditor, coordinator, front-desk.")
    ] = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="Remove the keys of --name.")] = False,
) -> None:
    """Create an API key (only its hash is stored; the key is printed once), or revoke a name's
    keys. A running service reads the key file again: no restart needed."""
    import os

    from serving.security import Role, create_key, revoke_keys
    from serving.settings import STATE_DIR

    path = Path(os.environ.get("KYKYTUTKA_API_KEYS_FILE", STATE_DIR / "api-keys.json"))
    if revoke:
        removed = revoke_keys(path, name)
        typer.echo(f"revoked {removed} key(s) of {name!r} in {path}", err=True)
        if not removed:
            raise typer.Exit(1)
        return
    roles = ", ".join(r.value for r in Role)
    if role is None:
        raise _fail(f"--role is required to create a key; use {roles}")
    try:
        chosen = Role(role)
    except ValueError:
        raise _fail(f"--role: unknown role {role!r}; use {roles}") from None
    typer.echo(create_key(path, name, chosen))


@app.command()
def monitor(
    reference: Annotated[
        str, typer.Option(help="Training data file (.csv/.parquet), or an MLflow run id.")
    ],
    current: Annotated[
        str,
        typer.Option(
            help="A booking file, or a window of the audit store: audit:7d, audit:24h, "
            "audit:2026-11-01..2026-11-23 (UTC, end exclusive)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder for the reports (created if missing).")],
    config: Annotated[
        Path | None,
        typer.Option(help="Limits, as experiments/monitoring/default.yaml (the defaults)."),
    ] = None,
    model: Annotated[str, typer.Option(help="The model that scores files.")] = (
        "models:/kykytutka@champion"
    ),
    audit_url: Annotated[
        str | None,
        typer.Option(help="Audit store URL (default: KYKYTUTKA_AUDIT_URL, else the local one)."),
    ] = None,
    log_mlflow: Annotated[
        bool, typer.Option("--mlflow/--no-mlflow", help="Log metrics and reports to MLflow.")
    ] = True,
) -> None:
    """Drift and fairness check: exit 0 within limits, 1 on a breach, 2 on bad input."""
    import os

    from models.registry import use_tracking
    from monitoring.config import load_monitor_config
    from monitoring.monitor import monitor as run_monitor
    from monitoring.sources import MonitorInputError
    from serving.settings import STATE_DIR
    from training.config import ConfigError

    url = (
        audit_url or os.environ.get("KYKYTUTKA_AUDIT_URL") or f"sqlite:///{STATE_DIR / 'audit.db'}"
    )
    try:
        settings = load_monitor_config(config)
        use_tracking()
        result = run_monitor(reference, current, out, settings, model, url, log_mlflow)
    except (ConfigError, MonitorInputError) as error:
        raise _fail(f"kykytutka monitor: bad input: {error}") from None
    typer.echo(result.summary())
    typer.echo(f"  reports: {out / 'index.html'} ({result.seconds:.1f} s)")
    if result.mlflow_run_id:
        typer.echo(f"  MLflow run: {result.mlflow_run_id}")
    if result.mlflow_error:
        typer.echo(f"kykytutka monitor: NOT logged to MLflow: {result.mlflow_error}", err=True)
    raise typer.Exit(result.exit_code)


@app.command()
def secrets(
    out: Annotated[Path, typer.Option(help="Environment file to write.")] = Path(
        ".kykytutka/service.env"
    ),
    checkpoint_key: Annotated[
        Path,
        typer.Option(
            help="Signing key of the audit checkpoints (public half: .pub). The default, beside "
            "the local audit store, is for demos: in production keep it elsewhere (a separate "
            "mount or a secret store) and point KYKYTUTKA_CHECKPOINT_KEY_FILE at it."
        ),
    ] = Path(".kykytutka/checkpoint.key"),
) -> None:
    """Write a new pseudonymisation key to an environment file and a new key that signs the audit
    checkpoints (each kept if it already exists), owner-only (0600) whatever the umask."""
    import secrets as random_secrets
    import stat

    from serving.security import write_private

    if out.is_file():
        if out.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            out.chmod(0o600)
            typer.echo(f"{out} exists; kept, and made owner-only (0600)")
        else:
            typer.echo(f"{out} exists; kept")
    else:
        write_private(out, f"KYKYTUTKA_PSEUDONYM_KEY={random_secrets.token_urlsafe(48)}\n")
        typer.echo(f"wrote {out}")
    from audit.checkpoints import create_checkpoint_key  # kept apart from the audit store

    made = create_checkpoint_key(checkpoint_key)
    typer.echo(
        f"{'wrote' if made else 'kept'} {checkpoint_key} (public half: {checkpoint_key}.pub)"
    )


app.add_typer(audit_commands)  # kykytutka audit verify


def main() -> None:  # pragma: no cover - console entry point
    app()
