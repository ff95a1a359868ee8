"""Whether the chain holds at one record, in a few indexed reads (for the auditor's decision page;
``kykytutka audit verify`` walks the whole chain).

At a record: its content still matches its hash, the row before it (by seq) is intact and is the
hash it records, the row after it records its hash, and a signed checkpoint at or after it
verifies and matches the row it names. A rewrite of the whole chain after this record, or a change
between it and the checkpoint, is found by the full walk only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from audit.chain import RowCodec, link
from audit.checkpoints import Checkpoint, Verifier
from audit.schema import CHAINED, GENESIS, checkpoints


@dataclass(frozen=True)
class AtRecord:
    intact: bool
    problem: str  # empty when intact
    checkpoint_seq: int | None  # the signed checkpoint that covers the record, if any


_CODECS = {table.name: RowCodec(table) for table in CHAINED}


def _row(connection: sa.Connection, seq: int) -> tuple[str, Any] | None:
    for name, codec in _CODECS.items():
        table = codec.table
        columns = [
            sa.cast(c, sa.Text).label(c.name) if c.name in codec.json_columns else c
            for c in table.columns
        ]
        found = connection.execute(sa.select(*columns).where(table.c.seq == seq)).first()
        if found is not None:
            return name, found._mapping
    return None


def _intact(name: str, values: Any) -> bool:
    return bool(link(values["prev_hash"], _CODECS[name].canonical(values)) == values["row_hash"])


def verify_at(engine: Engine, seq: int, verifier: Verifier | None = None) -> AtRecord:
    with engine.connect() as connection:
        here = _row(connection, seq)
        if here is None:
            return AtRecord(False, f"no row at seq {seq}", None)
        name, values = here
        if not _intact(name, values):
            return AtRecord(False, f"seq {seq}: its content no longer matches its hash", None)
        if seq == 1:
            if values["prev_hash"] != GENESIS:
                return AtRecord(False, "seq 1 does not start the chain", None)
        else:
            before = _row(connection, seq - 1)
            if before is None:
                return AtRecord(False, f"seq {seq - 1} (the row before) is missing", None)
            if not _intact(*before) or before[1]["row_hash"] != values["prev_hash"]:
                return AtRecord(False, f"seq {seq - 1} (the row before) was changed", None)
        after = _row(connection, seq + 1)
        if after is not None and after[1]["prev_hash"] != values["row_hash"]:
            return AtRecord(False, f"seq {seq + 1} (the row after) records another hash", None)
        mark = connection.execute(
            sa.select(checkpoints)
            .where(checkpoints.c.seq >= seq)
            .order_by(checkpoints.c.seq, checkpoints.c.id)
            .limit(1)
        ).first()
        if mark is None:
            return AtRecord(True, "", None)
        signed = Checkpoint(
            int(mark.seq), mark.hash, mark.signed_at, mark.key_id, mark.signature, mark.algorithm
        )
        if verifier is not None and not verifier.verifies(signed):
            return AtRecord(False, f"the checkpoint at seq {signed.seq} does not verify", None)
        named: Any = values
        if signed.seq != seq:
            found = _row(connection, signed.seq)
            named = None if found is None else found[1]
        if named is None or named["row_hash"] != signed.hash:
            return AtRecord(False, f"the checkpoint at seq {signed.seq} holds another hash", None)
        return AtRecord(True, "", signed.seq)
