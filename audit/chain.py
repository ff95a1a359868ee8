"""The hash chain over decisions, feedback and outcomes: each row's canonical content and hash.

One chain runs across the three tables, in the order of ``seq`` (1, 2, 3, ... with no gaps). For
the row at ``seq``::

    row_hash = SHA-256( prev_hash + "\\n" + canonical )      (hex digests, UTF-8 text)

where ``prev_hash`` is the ``row_hash`` of the row at ``seq - 1`` (64 zeros for the first row) and
``canonical`` is the JSON text of ``{"row": {...}, "table": "<table name>"}``: the row's stored
columns except ``prev_hash`` and ``row_hash`` (``seq`` included; NULL columns left out, so that a
column added later leaves old hashes valid), keys sorted, separators ``,`` and ``:``, non-ASCII
escaped (``\\uXXXX``); times as UTC ISO 8601 with microseconds (``2026-11-01T09:30:00.000000+00:00``),
floats by Python's ``repr``, booleans as ``true``/``false``. JSON columns (a decision's inputs and
output) are stored as exactly this canonical text, and hashed as stored.

Anyone can recompute the chain from the rows with these rules; what a rewrite of the whole chain
cannot fake is a checkpoint signed with a key kept outside the store (``audit.checkpoints``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

NOT_HASHED = frozenset({"prev_hash", "row_hash"})


def canonical_json(value: Any) -> str:
    """The JSON text a JSON column is stored as, and hashed as."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def link(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def utc(value: datetime) -> datetime:
    """A time in UTC; a time without a zone is taken as UTC (SQLite returns them so)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_JSON, _TIME, _FLOAT, _BOOL, _INT, _TEXT = range(6)


def _kind(column: sa.Column[Any]) -> int:
    kind = column.type
    if isinstance(kind, sa.JSON):
        return _JSON
    if isinstance(kind, sa.DateTime):
        return _TIME
    if isinstance(kind, sa.Float):
        return _FLOAT
    if isinstance(kind, sa.Boolean):
        return _BOOL
    if isinstance(kind, sa.Integer):
        return _INT
    if isinstance(kind, sa.String):
        return _TEXT
    raise TypeError(f"{column.table.name}.{column.name}: no canonical form for {kind!r}")


class RowCodec:
    """One chained table's rows: the values stored and their canonical text.

    ``stored`` turns what a caller gave into what is written (times in UTC, JSON as its canonical
    text, each value of its column's type), so that what is read back hashes as it was hashed.
    """

    def __init__(self, table: sa.Table) -> None:
        self.table = table
        self.name = table.name
        self.columns = tuple(c.name for c in table.columns)
        hashed = sorted((c.name, _kind(c)) for c in table.columns if c.name not in NOT_HASHED)
        self._hashed = tuple((name, kind, f'"{name}":') for name, kind in hashed)
        self._kinds = dict((name, kind) for name, kind, _ in self._hashed)
        self._tail = f'}},"table":{json.dumps(self.name)}}}'
        #: the columns read back as text (``sa.cast``) to be hashed as stored
        self.json_columns = frozenset(n for n, k in self._kinds.items() if k == _JSON)

    def stored(self, row: dict[str, Any]) -> dict[str, Any]:
        """The values to write for ``row``: every hashed column (absent ones as None)."""
        values: dict[str, Any] = {}
        for name, kind in self._kinds.items():
            value = row.get(name)
            if value is not None:
                if kind == _JSON:
                    value = canonical_json(value)
                elif kind == _TIME:
                    value = utc(value)
                elif kind == _FLOAT:
                    value = float(value)
                elif kind == _BOOL:
                    value = bool(value)
                elif kind == _INT:
                    value = int(value)
                else:
                    value = str(value)
            values[name] = value
        return values

    def canonical(self, values: Any) -> str:
        """The canonical text of a row: ``values`` maps column names to stored values (JSON
        columns as their stored text), as ``stored`` gives them or as read back."""
        parts = []
        for name, kind, key in self._hashed:
            value = values[name]
            if value is None:
                continue
            if kind == _JSON:
                text = value
            elif kind == _TIME:
                text = f'"{utc(value).isoformat(timespec="microseconds")}"'
            elif kind == _FLOAT:
                text = json.dumps(float(value))
            elif kind == _BOOL:
                text = "true" if value else "false"
            elif kind == _INT:
                text = str(int(value))
            else:
                text = json.dumps(str(value))
            parts.append(key + text)
        return '{"row":{' + ",".join(parts) + self._tail
