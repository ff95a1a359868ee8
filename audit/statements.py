"""The SQL text of the audit writer: its inserts, and a failure told without row data."""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine

from audit.chain import RowCodec
from audit.schema import metadata


def reason(exc: Exception) -> str:
    """A failure's kind and the first line of the driver's message, never row data: the drivers
    name the constraint or the type on their first line and a value only below it (DETAIL), and
    whatever the first line quotes is masked unless it names a table, column or constraint."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    first = _QUOTED.sub(_schema_names_only, lines[0]) if lines else ""
    return f"{type(cause).__name__}: {first}"[:200].rstrip(": ")


_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_SCHEMA_WORDS = frozenset(
    {t.name for t in metadata.tables.values()}
    | {c.name for t in metadata.tables.values() for c in t.columns}
)


def _schema_names_only(quoted: re.Match[str]) -> str:
    word = quoted.group(0)[1:-1]
    if word in _SCHEMA_WORDS or any(word.startswith(f"{t}_") for t in metadata.tables):
        return quoted.group(0)
    return '"…"'


def insert_sql(codec: RowCodec, engine: Engine) -> str:
    dialect = engine.dialect
    quote = dialect.identifier_preparer.quote
    style = dialect.paramstyle
    marks = [
        {"qmark": "?", "format": "%s", "named": f":{name}", "pyformat": f"%({name})s"}[style]
        for name in codec.columns
    ]
    return (
        f"INSERT INTO {dialect.identifier_preparer.format_table(codec.table)} "
        f"({', '.join(quote(name) for name in codec.columns)}) VALUES ({', '.join(marks)})"
    )
