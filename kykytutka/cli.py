"""The ``kykytutka`` command: one entry point, one subcommand per job."""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="kykytutka",
    help="Early detection of work-ability support needs at appointment booking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


def main() -> None:  # pragma: no cover - console entry point
    app()
