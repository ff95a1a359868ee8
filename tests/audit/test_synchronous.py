"""SQLite's durability setting: FULL by default, NORMAL when the operator chooses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from audit.store import AuditStore
from serving.settings import ServiceSettings

pytestmark = pytest.mark.code

KEY = "x" * 8 + "abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize(("chosen", "pragma"), [("FULL", 2), ("NORMAL", 1)])
def test_the_store_commits_with_the_chosen_durability(
    tmp_path: Path, chosen: str, pragma: int
) -> None:
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}", synchronous=chosen)
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
    finally:
        store.close()


def test_the_setting_is_full_unless_normal_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYKYTUTKA_PSEUDONYM_KEY", KEY)
    assert ServiceSettings().audit_sqlite_synchronous == "FULL"
    monkeypatch.setenv("KYKYTUTKA_AUDIT_SQLITE_SYNCHRONOUS", "OFF")
    with pytest.raises(ValidationError, match="audit_sqlite_synchronous"):
        ServiceSettings()
