"""The house rules that keep the layout easy to change, checked on the source itself.

Import rule (README, "Architecture"): data_contracts <- features <- models <- {training, serving,
monitoring} <- the command line; the audit store sits beside models (serving writes it, monitoring
reads it); serving and monitoring never import training, monitoring never imports serving.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = [pytest.mark.code]

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "data_contracts",
    "features",
    "models",
    "audit",
    "synthetic",
    "training",
    "serving",
    "monitoring",
    "kykytutka",
)

#: Which of the project's packages each package may import (besides itself).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "data_contracts": frozenset(),
    "synthetic": frozenset({"data_contracts"}),
    "features": frozenset({"data_contracts"}),
    "models": frozenset({"data_contracts", "features"}),
    "audit": frozenset({"data_contracts"}),
    "training": frozenset({"data_contracts", "features", "models", "synthetic"}),
    "serving": frozenset({"data_contracts", "features", "models", "audit"}),
    "monitoring": frozenset({"data_contracts", "features", "models", "audit"}),
    "kykytutka": frozenset(PACKAGES),
}
MAX_LINES = 400


def project_imports(source: str) -> set[str]:
    """The project packages a module imports, at any depth (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names if name.split(".")[0] in PACKAGES}
    return found


def violations(package: str, source: str) -> set[str]:
    return project_imports(source) - MAY_IMPORT[package] - {package}


def source_files() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_keeps_the_import_rule(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    forbidden = violations(package, path.read_text(encoding="utf-8"))
    assert not forbidden, f"{path.relative_to(ROOT)} imports {sorted(forbidden)}"


def test_the_rule_catches_a_hidden_import() -> None:
    """The checker itself: an import inside a function counts, a relative or standard one does not."""
    source = "import json\n\ndef f():\n    from training.train import train\n    return train\n"
    assert violations("serving", source) == {"training"}
    assert violations("monitoring", "from serving.settings import STATE_DIR\n") == {"serving"}
    assert violations("models", "import training.alert\n") == {"training"}
    assert violations("serving", "from models.registry import load_model\n") == set()


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
