"""The hash chain: what is stored verifies, and every kind of tampering is named, on SQLite and
PostgreSQL (planted with SQL straight on the database, as an intruder would)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from audit.chain import RowCodec, canonical_json, link
from audit.checkpoints import CheckpointCopy, Signer, Verifier
from audit.schema import GENESIS, decisions
from audit.store import AuditStore, now
from audit.verify import Verification, verify_chain
from tests.audit.conftest import decision, execute, fill, outcome_row, scalar

pytestmark = [pytest.mark.code]


def verify(store: AuditStore, verifier: Verifier | None = None) -> Verification:
    return verify_chain(store.engine, verifier)


def broken(store: AuditStore, verifier: Verifier | None = None) -> str:
    result = verify(store, verifier)
    assert result.problem is not None, "tampering went unnoticed"
    return str(result.problem)


def test_the_canonical_text_is_the_documented_json() -> None:
    codec = RowCodec(decisions)
    values = codec.stored({**decision(7), "seq": 8, "prev_hash": GENESIS, "row_hash": ""})
    text = codec.canonical(values)
    parsed = json.loads(text)
    assert text == canonical_json(parsed)  # sorted keys, fixed separators, nothing else
    assert parsed["table"] == "decisions" and parsed["row"]["seq"] == 8
    assert parsed["row"]["decided_at"] == "2026-11-02T08:07:00.000000+00:00"
    assert f'"alert_probability":{0.1 + 7 / 1000!r}' in text  # the float by its repr
    assert "prev_hash" not in parsed["row"] and "row_hash" not in parsed["row"]
    assert text.isascii()  # "ä" escaped
    assert link(GENESIS, text) == link(GENESIS, text) != link("1" * 64, text)


def test_a_stored_chain_verifies_and_the_readers_read_it(store: AuditStore) -> None:
    fill(store, 4)
    store.record([decision(10 + n) for n in range(5)])  # a batch: five rows, one transaction
    result = verify(store)
    assert result.intact, result.problem
    assert result.rows == {"decisions": 9, "feedback": 4, "outcomes": 4}
    assert result.head[0] == 17
    row = store.get(decision(1)["decision_id"])
    assert row is not None and row["made_by"] == "booking-1" and row["seq"] == 4
    assert row["inputs"] == decision(1)["inputs"] and row["output"] == decision(1)["output"]
    (given,) = store.feedback_for(decision(1)["decision_id"])
    assert given["recorded_by"] == "booking-1" and given["id"] == given["seq"] == 5
    (outcome,) = store.outcomes_for(decision(1)["decision_id"])
    assert outcome["recorded_by"] == "coordinator-1" and outcome["seq"] == 6


def test_times_in_any_zone_are_stored_in_utc_and_still_verify(store: AuditStore) -> None:
    from datetime import timedelta, timezone

    helsinki = timezone(timedelta(hours=2))
    store.record([decision(1, decided_at=decision(1)["decided_at"].astimezone(helsinki))])
    store.record_outcome(outcome_row(1, alert_probability=1))
    assert verify(store).intact
    stored = store.get(decision(1)["decision_id"])
    assert stored is not None
    decided = stored["decided_at"]
    assert decided.replace(tzinfo=None) == decision(1)["decided_at"].replace(tzinfo=None)


# -- tampering, planted with SQL ------------------------------------------------------------------


def test_a_changed_value_is_named(store: AuditStore, store_url: str) -> None:
    fill(store, 4)
    execute(store_url, "UPDATE decisions SET alert_probability = 0.01 WHERE seq = 7")
    assert broken(store) == (
        f"decisions decision_id={decision(2)['decision_id']} (seq 7): "
        "changed: its content no longer matches its hash"
    )


def test_a_changed_json_input_is_named(store: AuditStore, store_url: str) -> None:
    fill(store, 3)
    stored = scalar(store_url, "SELECT CAST(inputs AS TEXT) FROM decisions WHERE seq = 4")
    execute(
        store_url,
        "UPDATE decisions SET inputs = :inputs WHERE seq = 4",
        inputs=stored.replace('"sex":"female"', '"sex":"male"'),
    )
    assert "(seq 4): changed" in broken(store)


def test_a_changed_row_whose_hash_was_recomputed_is_named(
    store: AuditStore, store_url: str
) -> None:
    """The intruder knows the rules and rehashes the row: the next row's link gives it away."""
    fill(store, 3)
    codec = RowCodec(decisions)
    with store.engine.connect() as connection:
        row = dict(
            connection.execute(sa.select(decisions).where(decisions.c.seq == 4)).one()._mapping
        )
    row["alert"] = not row["alert"]
    values = codec.stored(row)
    values["seq"] = 4
    rehashed = link(row["prev_hash"], codec.canonical(values))
    execute(
        store_url,
        "UPDATE decisions SET alert = :alert, row_hash = :hash WHERE seq = 4",
        alert=row["alert"],
        hash=rehashed,
    )
    assert broken(store).startswith(
        f"decisions decision_id={decision(1)['decision_id']} (seq 4): changed: its hash was "
        "rewritten"
    )


def test_a_deleted_row_is_named(store: AuditStore, store_url: str) -> None:
    fill(store, 4)
    execute(store_url, "DELETE FROM feedback WHERE seq = 5")
    problem = broken(store)
    assert problem.startswith("outcomes id=6 (seq 6): deleted: seq 5 missing after decisions")


def test_a_row_inserted_with_a_forged_seq_is_named(store: AuditStore, store_url: str) -> None:
    """A row copied in with a seq another row holds (here the outcome of a decision of seq 4)."""
    fill(store, 4)
    execute(
        store_url,
        "INSERT INTO outcomes (id, decision_id, needs_support, support_level, confirmed_at, "
        "received_at, recorded_by, seq, prev_hash, row_hash) SELECT 1000, decision_id, "
        "needs_support, 'consultation', confirmed_at, received_at, recorded_by, 4, prev_hash, "
        "row_hash FROM outcomes WHERE seq = 3",
    )
    assert broken(store).startswith(
        "outcomes id=1000 (seq 4): inserted out of order: seq 4 is also held by decisions"
    )


def test_a_row_appended_with_a_valid_hash_but_a_skipped_seq_is_named(
    store: AuditStore, store_url: str
) -> None:
    fill(store, 2)
    head_seq, head_hash = store.head()
    codec = RowCodec(decisions)
    values = codec.stored(decision(50))
    values["seq"] = head_seq + 5
    forged = link(head_hash, codec.canonical(values))
    row = {**values, "prev_hash": head_hash, "row_hash": forged, "inputs": values["inputs"]}
    execute(
        store_url,
        f"INSERT INTO decisions ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})",
        **{k: (v.replace(tzinfo=None) if hasattr(v, "tzinfo") and "sqlite" in store_url else v)
           for k, v in row.items()},
    )  # fmt: skip
    assert "(seq 11): inserted out of order: it follows outcomes id=6 (seq 6)" in broken(store)


def test_a_truncated_tail_is_named(store: AuditStore, store_url: str) -> None:
    fill(store, 4)
    execute(store_url, "DELETE FROM outcomes WHERE seq = 12")
    execute(store_url, "DELETE FROM feedback WHERE seq = 11")
    assert broken(store) == (
        "chain_head id=1 (seq 12): truncated: the head is at seq 12 but the chain ends at "
        f"decisions decision_id={decision(3)['decision_id']} (seq 10)"
    )


def _signer() -> Signer:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Signer(Ed25519PrivateKey.generate())


def test_a_truncated_tail_with_its_head_moved_back_is_caught_by_a_checkpoint(
    store: AuditStore, store_url: str
) -> None:
    fill(store, 4)
    signer = _signer()
    checkpoint = store.sign_checkpoint(signer)
    assert checkpoint is not None and checkpoint.seq == 12
    assert store.sign_checkpoint(signer) is None  # the head has not moved
    # The intruder cuts the last two rows and moves the head back onto the new last row.
    with store.engine.connect() as connection:
        last = connection.execute(sa.select(decisions.c.row_hash).where(decisions.c.seq == 10))
        new_head = last.scalar_one()
    execute(store_url, "DELETE FROM outcomes WHERE seq = 12")
    execute(store_url, "DELETE FROM feedback WHERE seq = 11")
    execute(store_url, "UPDATE chain_head SET seq = 10, hash = :hash", hash=new_head)
    problem = broken(store, Verifier(signer.public))
    assert problem.startswith("checkpoints id=1 (seq 12): truncated: this checkpoint (signed ")
    assert problem.endswith("holds seq 12 but the chain ends at seq 10")


def test_a_rewritten_chain_is_caught_by_a_checkpoint(store: AuditStore, store_url: str) -> None:
    """Change a row and recompute every hash after it, head included: only the signed
    checkpoint still holds the old hash."""
    fill(store, 3)
    signer = _signer()
    store.sign_checkpoint(signer)
    execute(store_url, "UPDATE decisions SET alert_probability = 0.99 WHERE seq = 4")
    _rehash(store, store_url)
    assert verify(store).rows["decisions"] == 3
    problem = broken(store, Verifier(signer.public))
    assert problem.startswith("checkpoints id=1 (seq 9): the chain was rewritten")
    assert verify(store).problem is not None  # without the key too: the hash is compared


def test_a_forged_checkpoint_or_another_key_is_named(store: AuditStore, store_url: str) -> None:
    fill(store, 2)
    signer = _signer()
    store.sign_checkpoint(signer)
    assert verify(store, Verifier(signer.public)).intact
    assert "signed by another key" in broken(store, Verifier(_signer().public))
    fill_more = decision(20)
    store.record([fill_more])
    execute(store_url, "UPDATE checkpoints SET seq = 7, hash = :hash", hash=store.head()[1])
    assert broken(store, Verifier(signer.public)).endswith(
        "its signature does not verify: forged or changed"
    )


def test_checkpoints_made_by_the_service_verify(store: AuditStore) -> None:
    signer = _signer()
    for round_ in range(3):
        store.record([decision(round_)])
        store.sign_checkpoint(signer)
    result = verify(store, Verifier(signer.public))
    assert result.intact and result.checkpoints == 3 and result.signatures_checked


def _rehash(store: AuditStore, url: str) -> None:
    """Recompute the whole chain from the rows as they now are (what an intruder who knows the
    rules would do) and move the head."""
    from audit.schema import CHAINED, ROW_ID

    engine = sa.create_engine(url)
    rows: list[tuple[int, sa.Table, Any, dict[str, Any]]] = []
    with engine.connect() as connection:
        for table in CHAINED:
            codec = RowCodec(table)
            columns = [
                sa.cast(c, sa.Text).label(c.name) if c.name in codec.json_columns else c
                for c in table.columns
            ]
            for row in connection.execute(sa.select(*columns)):
                values = dict(row._mapping)
                rows.append((values["seq"], table, values[ROW_ID[table.name]], values))
    prev = GENESIS
    with engine.begin() as connection:
        for _seq, table, key, values in sorted(rows, key=lambda r: r[0]):
            new = link(prev, RowCodec(table).canonical(values))
            id_column = table.c[ROW_ID[table.name]]
            connection.execute(
                sa.update(table).where(id_column == key).values(prev_hash=prev, row_hash=new)
            )
            prev = new
        connection.execute(sa.text("UPDATE chain_head SET hash = :hash"), {"hash": prev})
    engine.dispose()
    assert _seq == store.head()[0]


def test_verify_streams_a_long_chain_in_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    peaks = []
    for count in (1_000, 8_000):
        store = AuditStore(f"sqlite:///{tmp_path / f'long-{count}.db'}", timeout=30)
        for start in range(0, count, 1_000):
            store.record([decision(n) for n in range(start, start + 1_000)])
        tracemalloc.start()
        result = verify(store)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        store.close()
        assert result.intact and result.total == count
    assert peaks[1] < 1.5 * peaks[0] + 1_000_000, peaks  # eight times the rows, not the memory


def test_checkpoint_copies_are_checked_in_batches_with_or_without_the_key(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copies kept outside the store (``verify --checkpoints``), read a batch at a time."""
    monkeypatch.setattr("audit.verify.BATCH", 2)
    signer = _signer()
    copies = []
    for number in range(5):
        store.record([decision(number)])
        copies.append(CheckpointCopy("copies", number + 1, signer.sign(*store.head(), now())))
    result = verify_chain(store.engine, Verifier(signer.public), copies)
    assert result.intact and result.copies == 5 and result.checkpoints == 0
    beyond = CheckpointCopy("copies", 6, signer.sign(9, "b" * 64, now()))
    problem = str(verify_chain(store.engine, None, [*copies, beyond]).problem)
    assert problem.startswith("copies line 6 (seq 9): the store ends at seq 5 but a checkpoint")
    assert problem.endswith("covers seq 9: rows were deleted")
    other = CheckpointCopy("copies", 7, signer.sign(3, "b" * 64, now()))
    assert str(verify_chain(store.engine, None, [other]).problem).endswith(
        f"holds another hash for decisions decision_id={decision(2)['decision_id']} (seq 3)"
    )
