"""``kykytutka audit ...``: checking the audit store's tamper-evident chain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from audit.checkpoints import CheckpointCopy, Verifier
    from audit.verify import Verification

audit = typer.Typer(
    name="audit",
    help="Check the audit store: its hash chain and signed checkpoints.",
    no_args_is_help=True,
)


#: where ``kykytutka secrets`` and the service keep the checkpoint key by default
DEFAULT_KEY = ".kykytutka/checkpoint.key"


def _usage(message: str) -> typer.Exit:
    typer.echo(f"kykytutka audit verify: {message}", err=True)
    return typer.Exit(2)


@audit.command()
def verify(
    url: Annotated[
        str | None,
        typer.Option(help="Audit store URL (default: KYKYTUTKA_AUDIT_URL, else the local one)."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="The checkpoint key's public half (checkpoint.key.pub), to check the "
            "checkpoints' signatures."
        ),
    ] = None,
    checkpoint_key_file: Annotated[
        Path | None,
        typer.Option(help="Or the checkpoint key itself (its public half is used)."),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            help="Checkpoint copies kept outside the store: the service's "
            "KYKYTUTKA_CHECKPOINT_COPY_FILE, or its shipped log (JSON lines; other events are "
            "skipped). Each must verify and still be held by the chain."
        ),
    ] = None,
) -> None:
    """Walk the audit chain: exit 0 if intact, 1 naming the first row tampered with.

    Checks every decision, feedback and outcome row against its hash and the one before it, the
    chain head, every signed checkpoint, and with --checkpoints every copy kept outside the store
    (which catches a cut tail whose checkpoints were deleted with it). Exit 0 with the count when
    intact; 1 naming the first row changed, deleted or inserted out of order (table, row id, seq,
    what), or the copy the store no longer holds (file, line, seq); 2 on a usage error."""
    from audit.checkpoints import CheckpointCopyError, read_copies

    if public_key is not None and checkpoint_key_file is not None:
        raise _usage("--public-key and --checkpoint-key-file: give one of them")
    verifier = _verifier(public_key, checkpoint_key_file)
    if checkpoints is not None:
        if verifier is None:
            raise _usage(
                f"--checkpoints {checkpoints}: checking the copies' signatures needs the public "
                "key: give --public-key"
            )
        try:
            sum(1 for _ in read_copies(checkpoints))  # every line readable before the walk
        except CheckpointCopyError as error:
            raise _usage(f"--checkpoints: {error}") from None
    try:
        copies = read_copies(checkpoints) if checkpoints is not None else ()
        result = _walk(verifier, url, copies)
    except CheckpointCopyError as error:  # the file changed since it was read above
        raise _usage(f"--checkpoints: {error}") from None
    _report(result, verifier, checkpoints)


def _verifier(public_key: Path | None, checkpoint_key_file: Path | None) -> Verifier | None:
    """The key the options give, else the service's own key's public half where the settings
    put it (none there: signatures are not checked)."""
    import os

    from audit.checkpoints import CheckpointKeyError, load_verifier, public_key_file

    key = public_key or checkpoint_key_file
    if key is None:
        service_key = Path(os.environ.get("KYKYTUTKA_CHECKPOINT_KEY_FILE", DEFAULT_KEY))
        key = public_key = (
            public_key_file(service_key) if public_key_file(service_key).is_file() else None
        )
    if key is None:
        return None
    name = "--public-key" if public_key is not None else "--checkpoint-key-file"
    try:
        return load_verifier(key)
    except CheckpointKeyError as error:
        raise _usage(f"{name}: {error}") from None


def _walk(
    verifier: Verifier | None, url: str | None, copies: Iterable[CheckpointCopy]
) -> Verification:
    import os

    import sqlalchemy as sa

    from audit.schema import missing_columns
    from audit.store import shown
    from audit.verify import verify_chain

    from_environment = os.environ.get("KYKYTUTKA_AUDIT_URL")
    store_url = url or from_environment or "sqlite:///.kykytutka/audit.db"
    option = "KYKYTUTKA_AUDIT_URL" if from_environment and not url else "--url"
    try:
        parsed = sa.engine.make_url(store_url)
    except sa.exc.ArgumentError:
        raise _usage(f"{option}: not a database URL: {store_url!r}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise _usage(f"{option}: {shown(store_url)}: use sqlite:///... or postgresql+psycopg://...")
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise _usage(f"{option}: no audit store at {shown(store_url)}")
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as connection:
            missing = missing_columns(connection)
        if missing:
            tables = "; ".join(f"{t} lacks {', '.join(c)}" for t, c in missing.items())
            raise _usage(
                f"{shown(store_url)} has no hash chain (made by an older release: {tables})"
            )
        return verify_chain(engine, verifier, copies)
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise _usage(f"{option}: cannot read {shown(store_url)}: {reason}") from None
    finally:
        engine.dispose()


def _report(result: Verification, verifier: Verifier | None, copy_file: Path | None) -> None:
    from audit.verify import CopyProblem

    if result.problem is not None:
        typer.echo(f"audit chain BROKEN at {result.problem}", err=True)
        held = f", {result.copies:,} copies" if isinstance(result.problem, CopyProblem) else ""
        typer.echo(f"  {result.total:,} rows verified{held} before it", err=True)
        raise typer.Exit(1)
    counts = ", ".join(f"{name} {count:,}" for name, count in result.rows.items())
    typer.echo(f"audit chain intact: {result.total:,} rows ({counts}); head seq {result.head[0]}")
    if result.checkpoints and verifier is not None:
        typer.echo(
            f"  {result.checkpoints:,} checkpoints hold, signatures verified "
            f"(key {verifier.key_id})"
        )
    elif result.checkpoints:
        typer.echo(
            f"  {result.checkpoints:,} checkpoints hold; signatures NOT checked (give --public-key)"
        )
    else:
        typer.echo("  no signed checkpoints yet")
    if copy_file is not None and result.copies:
        typer.echo(
            f"  {result.copies:,} checkpoint copies in {copy_file} hold, signatures verified"
        )
    elif copy_file is not None:
        typer.echo(f"  no checkpoint copies in {copy_file}")
