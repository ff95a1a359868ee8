"""The generated documents are current (``make docs`` regenerates them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kykytutka.texts import golden_table

pytestmark = [pytest.mark.code]
DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_golden_sentence_tables_are_current(language: str) -> None:
    committed = (DOCS / f"reasons-{language}.md").read_text(encoding="utf-8")
    assert committed == golden_table(language), (
        f"docs/reasons-{language}.md is stale: run `make docs`"
    )
