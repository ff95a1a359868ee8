"""What the audit writer is given (a job: rows to chain, or an action) and how a job fails."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


class AuditUnavailable(RuntimeError):
    """The audit store cannot be written: no decision may go out unlogged."""


#: an action run in a transaction of its own: (cursor, head as (seq, hash) or None) -> result
Action = Callable[[Any, "tuple[int, str] | None"], Any]


@dataclass(eq=False)
class Job:
    deadline: float  # time.monotonic()
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (table name, row)
    action: Action | None = None
    lock_head: bool = False  # for an action: lock the chain head and pass it
    future: Future[Any] = field(default_factory=Future)
    alone: bool = False  # in a transaction of its own (its group failed on a row)
    head: tuple[int, str] | None = None
    result: Any = None


def fail(job: Job, message: str) -> None:
    if not job.future.done():
        job.future.set_exception(AuditUnavailable(message))
