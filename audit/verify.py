"""Walking the audit chain: every row's hash and link, the head, and the signed checkpoints.

The three chained tables are read in ``seq`` order, merged, streamed (a few thousand rows in memory
at a time, however long the chain), in one read snapshot. The walk stops at the first row that was
changed, deleted or inserted out of order, and names it (table, row id, seq, what). Then, in the
same snapshot, the checkpoints copied outside the store (``audit.checkpoints.read_copies``): each
must still find its (seq, hash) on the chain, which the checkpoints in the store cannot prove
once an intruder has deleted them with the tail they cut.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from audit.chain import RowCodec, link
from audit.checkpoints import Checkpoint, CheckpointCopy, Verifier
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


@dataclass(frozen=True)
class CopyProblem:
    """What is wrong with a checkpoint copied outside the store, named by its file and line."""

    source: str
    line: int
    seq: int
    what: str

    def __str__(self) -> str:
        return f"{self.source} line {self.line} (seq {self.seq}): {self.what}"


@dataclass
class Verification:
    rows: dict[str, int] = field(default_factory=lambda: {t.name: 0 for t in CHAINED})
    head: tuple[int, str] = (0, GENESIS)
    checkpoints: int = 0
    copies: int = 0  # checkpoint copies from outside the store that hold
    signatures_checked: bool = False
    problem: Problem | CopyProblem | None = None

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


def verify_chain(
    engine: Engine, verifier: Verifier | None = None, copies: Iterable[CheckpointCopy] = ()
) -> Verification:
    """Walk the chain of the store ``engine`` opens, then check the checkpoint ``copies`` kept
    outside it; ``verifier`` checks the checkpoints' and the copies' signatures (without one,
    only that the chain still holds each checkpointed hash)."""
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
        if result.problem is None:
            result.problem = _check_copies(connection, iter(copies), verifier, result)
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


def _check_copies(
    connection: sa.Connection,
    copies: Iterator[CheckpointCopy],
    verifier: Verifier | None,
    result: Verification,
) -> CopyProblem | None:
    """Each copy against the chain just walked (intact, so seq 1..head without gaps), a batch
    at a time: a year of copies is half a million lines, too many to hold or to ask one by one."""
    end = result.head[0]
    while batch := list(itertools.islice(copies, BATCH)):
        rows = _rows_at(connection, {c.checkpoint.seq for c in batch if c.checkpoint.seq <= end})
        for copy in batch:
            problem = _check_copy(copy, rows.get(copy.checkpoint.seq), end, verifier)
            if problem is not None:
                return problem
            result.copies += 1
    return None


def _check_copy(
    copy: CheckpointCopy, row: _Held | None, end: int, verifier: Verifier | None
) -> CopyProblem | None:
    signed = copy.checkpoint
    when = signed.signed_at.isoformat()
    if verifier is not None and not verifier.verifies(signed):
        what = (
            f"a forged copy: signed by another key ({signed.key_id}, not {verifier.key_id})"
            if signed.key_id != verifier.key_id
            else "a forged copy: its signature does not verify"
        )
        return CopyProblem(copy.source, copy.line, signed.seq, what)
    if row is None:
        return CopyProblem(
            copy.source,
            copy.line,
            signed.seq,
            f"the store ends at seq {end} but a checkpoint signed at {when} covers seq "
            f"{signed.seq}: rows were deleted",
        )
    if row.row_hash != signed.hash:
        return CopyProblem(
            copy.source,
            copy.line,
            signed.seq,
            f"the chain was rewritten: the checkpoint signed at {when} holds another hash for "
            f"{row.table} {ROW_ID[row.table]}={row.row_id} (seq {signed.seq})",
        )
    return None


@dataclass(frozen=True, slots=True)
class _Held:
    table: str
    row_id: str
    row_hash: str


def _rows_at(connection: sa.Connection, seqs: set[int]) -> dict[int, _Held]:
    """The chained rows at ``seqs``: their table, id and hash, by seq."""
    found: dict[int, _Held] = {}
    if not seqs:
        return found
    for table in CHAINED:
        id_column = table.c[ROW_ID[table.name]]
        query = sa.select(table.c.seq, id_column, table.c.row_hash).where(table.c.seq.in_(seqs))
        for seq, row_id, row_hash in connection.execute(query):
            found[int(seq)] = _Held(table.name, str(row_id), str(row_hash))
    return found


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
