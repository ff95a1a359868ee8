"""Walking the audit chain: every row's hash and link, the head, and the signed checkpoints.

The three chained tables are read in ``seq`` order, merged, streamed (a few thousand rows in memory
at a time, however long the chain), in one read snapshot. The walk stops at the first row that was
changed, deleted or inserted out of order, and names it (table, row id, seq, what).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from audit.chain import RowCodec, link
from audit.checkpoints import Checkpoint, Verifier
from audit.schema import CHAINED, GENESIS, ROW_ID, chain_head, checkpoints

BATCH = 2_000  # rows fetched at a time from each table


@dataclass(frozen=True)
class Problem:
    table: str  # the table of the row named, or "chain_head" / "checkpoints"
    row_id: str
    seq: int | None
    what: str

    def __str__(self) -> str:
        where = f"{self.table} {ROW_ID.get(self.table, 'id')}={self.row_id}"
        at = "" if self.seq is None else f" (seq {self.seq})"
        return f"{where}{at}: {self.what}"


@dataclass
class Verification:
    rows: dict[str, int] = field(default_factory=lambda: {t.name: 0 for t in CHAINED})
    head: tuple[int, str] = (0, GENESIS)
    checkpoints: int = 0
    signatures_checked: bool = False
    problem: Problem | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None

    @property
    def total(self) -> int:
        return sum(self.rows.values())


@dataclass(slots=True)
class _Entry:
    seq: int
    table: str
    row_id: str
    prev_hash: str
    row_hash: str
    content_ok: bool

    def name(self) -> str:
        return f"{self.table} {ROW_ID[self.table]}={self.row_id} (seq {self.seq})"


def verify_chain(engine: Engine, verifier: Verifier | None = None) -> Verification:
    """Walk the chain of the store ``engine`` opens; ``verifier`` checks the checkpoints'
    signatures (without one, only that the chain still holds each checkpointed hash)."""
    result = Verification(signatures_checked=verifier is not None)
    sqlite = engine.dialect.name == "sqlite"
    connection = engine.connect()
    if not sqlite:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    try:
        if sqlite:
            connection.exec_driver_sql("BEGIN")  # one read snapshot for every query below
        found = connection.execute(sa.select(chain_head).where(chain_head.c.id == 1)).first()
        if found is None:
            result.problem = Problem("chain_head", "1", None, "deleted: the chain has no head")
            return result
        result.head = (int(found.seq), str(found.hash))
        streams = [_rows(connection, RowCodec(table)) for table in CHAINED]
        entries = heapq.merge(*streams, key=_seq)
        result.problem = _walk(entries, _checkpoints(connection), verifier, result)
    finally:
        connection.rollback()
        connection.close()
    return result


def _seq(entry: _Entry) -> int:
    return entry.seq


def _walk(
    entries: Iterator[_Entry],
    marks: Iterator[_Mark],
    verifier: Verifier | None,
    result: Verification,
) -> Problem | None:
    head_seq, head_hash = result.head
    last: _Entry | None = None
    prev = GENESIS
    mark = next(marks, None)
    for seq, group in itertools.groupby(entries, key=_seq):
        rows = list(group)
        if len(rows) > 1:  # a seq held twice: the row that does not link onto the chain is new
            fits = [r for r in rows if r.content_ok and r.prev_hash == prev]
            genuine = fits[0] if fits else rows[0]
            forged = next(r for r in rows if r is not genuine)
            return _problem(
                forged, f"inserted out of order: seq {seq} is also held by {genuine.name()}"
            )
        problem = _link(rows[0], last, prev, head_seq)
        if problem is not None:
            return problem
        entry = last = rows[0]
        prev = entry.row_hash
        result.rows[entry.table] += 1
        while mark is not None and mark.checkpoint.seq <= seq:
            problem = _check_mark(mark, entry, verifier)
            if problem is not None:
                return problem
            result.checkpoints += 1
            mark = next(marks, None)
    end = last.seq if last else 0
    if head_seq > end:
        where = last.name() if last else "its start"
        return Problem(
            "chain_head",
            "1",
            head_seq,
            f"truncated: the head is at seq {head_seq} but the chain ends at {where}",
        )
    if head_hash != prev:
        return Problem("chain_head", "1", head_seq, "changed: its hash is not the last row's")
    if mark is not None:
        if verifier is not None and not verifier.verifies(mark.checkpoint):
            return _bad_signature(mark, verifier)
        signed = mark.checkpoint
        return Problem(
            "checkpoints",
            mark.row_id,
            signed.seq,
            f"truncated: this checkpoint (signed {signed.signed_at.isoformat()}) "
            f"holds seq {signed.seq} but the chain ends at seq {end}",
        )
    return None


def _link(entry: _Entry, last: _Entry | None, prev: str, head_seq: int) -> Problem | None:
    """What is wrong with ``entry`` following ``last`` (whose hash is ``prev``), if anything."""
    expected = (last.seq if last else 0) + 1
    if not entry.content_ok:
        return _problem(entry, "changed: its content no longer matches its hash")
    if entry.seq > expected:
        if last is not None and entry.prev_hash == prev:
            return _problem(
                entry,
                f"inserted out of order: it follows {last.name()} but "
                f"skips seq {expected}..{entry.seq - 1}",
            )
        gap = f"seq {expected}" + ("" if entry.seq == expected + 1 else f"..{entry.seq - 1}")
        after = f"after {last.name()}" if last else "at the start of the chain"
        return _problem(entry, f"deleted: {gap} missing {after}, before this row")
    if entry.prev_hash != prev:
        if last is None:
            return _problem(entry, "changed: the first row does not start the chain")
        return _problem(
            last,
            f"changed: its hash was rewritten (the next row, {entry.name()}, recorded another)",
        )
    if entry.seq > head_seq:
        return _problem(entry, f"inserted after the chain head (at seq {head_seq})")
    return None


def _check_mark(mark: _Mark, entry: _Entry, verifier: Verifier | None) -> Problem | None:
    signed = mark.checkpoint
    if verifier is not None and not verifier.verifies(signed):
        return _bad_signature(mark, verifier)
    if signed.seq != entry.seq or signed.hash != entry.row_hash:
        return Problem(
            "checkpoints",
            mark.row_id,
            signed.seq,
            f"the chain was rewritten: this checkpoint (signed "
            f"{signed.signed_at.isoformat()}) holds another hash for {entry.name()}",
        )
    return None


def _bad_signature(mark: _Mark, verifier: Verifier) -> Problem:
    signed = mark.checkpoint
    what = (
        f"signed by another key ({signed.key_id}, not {verifier.key_id})"
        if signed.key_id != verifier.key_id
        else "its signature does not verify: forged or changed"
    )
    return Problem("checkpoints", mark.row_id, signed.seq, what)


def _problem(entry: _Entry, what: str) -> Problem:
    return Problem(entry.table, entry.row_id, entry.seq, what)


def _rows(connection: sa.Connection, codec: RowCodec) -> Iterator[_Entry]:
    """A chained table's rows in seq order, each checked against its own hash."""
    table = codec.table
    columns = [
        sa.cast(c, sa.Text).label(c.name) if c.name in codec.json_columns else c
        for c in table.columns
    ]
    query = sa.select(*columns).order_by(table.c.seq)
    rows = connection.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    id_column = ROW_ID[table.name]
    for row in rows:
        values: Any = row._mapping
        prev_hash = values["prev_hash"]
        yield _Entry(
            int(values["seq"]),
            table.name,
            str(values[id_column]),
            prev_hash,
            values["row_hash"],
            link(prev_hash, codec.canonical(values)) == values["row_hash"],
        )


@dataclass(frozen=True, slots=True)
class _Mark:
    row_id: str
    checkpoint: Checkpoint


def _checkpoints(connection: sa.Connection) -> Iterator[_Mark]:
    query = sa.select(checkpoints).order_by(checkpoints.c.seq, checkpoints.c.id)
    rows = connection.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    for row in rows:
        signed = Checkpoint(
            int(row.seq), row.hash, row.signed_at, row.key_id, row.signature, row.algorithm
        )
        yield _Mark(str(row.id), signed)
