"""The audit store's tables.

Decisions, feedback and outcomes form one hash chain (``audit.chain``): every row carries its place
in it (``seq``, global across the three tables), the hash of the row before it (``prev_hash``) and
its own (``row_hash``). ``chain_head`` holds the latest (seq, hash), moved in the same transaction
as the rows; ``checkpoints`` holds the head signed now and then with a key kept outside the store
(``audit.checkpoints``). ``heartbeat`` is outside the chain: readiness writes it to prove the store
takes writes.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: the chain's start: the previous hash of its first row
GENESIS = "0" * 64


def _chain_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
    ]


# Row ids of feedback and outcomes are their chain seq (given by the writer, so they are part of
# what is hashed and they still grow with time: the newest row of a decision has the largest id).
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid itself

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("decision_id", sa.String(36), primary_key=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("client_ref_hash", sa.String(64), nullable=False, index=True),
    sa.Column("booking_id", sa.String(64), nullable=False),
    sa.Column("model_name", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("contract_version", sa.String(16), nullable=False),
    sa.Column("alert_probability", sa.Float, nullable=False),
    sa.Column("alert", sa.Boolean, nullable=False),
    sa.Column("segment_id", sa.String(16), nullable=False),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("output", sa.JSON, nullable=False),
    #: the name of the API key that asked for the decision
    sa.Column("made_by", sa.String(64)),
    *_chain_columns(),
)


# What staff did with each card (CDS Hooks feedback): agreement and overrides are recorded so that
# automation bias can be seen (DOMAIN.md, the Polish profiling case). Override comments are free
# text and are not stored; only the reason code is.
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", _ROW_ID, primary_key=True, autoincrement=False),
    sa.Column("decision_id", sa.String(36), nullable=False, index=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("override_reason", sa.String(64)),
    sa.Column("outcome_at", sa.DateTime(timezone=True)),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    #: the name of the API key that posted the feedback
    sa.Column("recorded_by", sa.String(64)),
    *_chain_columns(),
)


# Outcomes confirmed later by a work-ability coordinator (POST .../outcome): the labels monitoring
# measures quality and fairness with, and `kykytutka train --audit-url` retrains on. A correction is
# a new row; the newest row of a decision is its outcome, the older ones stay as its history.
outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("id", _ROW_ID, primary_key=True, autoincrement=False),
    sa.Column("decision_id", sa.String(36), nullable=False, index=True),
    sa.Column("needs_support", sa.Boolean, nullable=False),
    sa.Column("support_level", sa.String(16)),
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    *_chain_columns(),
)

chain_head = sa.Table(
    "chain_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("seq", sa.BigInteger, nullable=False, index=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(256), nullable=False),
)

heartbeat = sa.Table(
    "heartbeat",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1
    sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
)

#: the chained tables, and the column that names a row of each in reports
CHAINED = (decisions, feedback, outcomes)
ROW_ID = {"decisions": "decision_id", "feedback": "id", "outcomes": "id"}
#: columns a store made by an older release lacks (there is no migration: see ``missing_columns``)
REQUIRED = {table.name: tuple(c.name for c in table.columns) for table in CHAINED}


def missing_columns(connection: sa.Connection, absent: bool = True) -> dict[str, list[str]]:
    """The chained tables' columns this database lacks: a store made by an older release (and,
    with ``absent``, the columns of tables it does not have at all)."""
    inspector = sa.inspect(connection)
    tables = set(inspector.get_table_names())
    missing = {}
    for name, columns in REQUIRED.items():
        if name not in tables and not absent:
            continue
        present = {c["name"] for c in inspector.get_columns(name)} if name in tables else set()
        lacking = [column for column in columns if column not in present]
        if lacking:
            missing[name] = lacking
    return missing
