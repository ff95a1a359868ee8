"""Training configurations: every shipped experiment loads; bad ones are named; the search grid."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import ConfigError, TrainConfig, load_config
from training.steps import candidate_configs

pytestmark = [pytest.mark.code]

EXPERIMENTS = sorted((Path(__file__).parents[2] / "experiments").glob("*.yaml"))


def test_the_three_experiments_ship() -> None:
    assert {p.stem for p in EXPERIMENTS} >= {"baseline", "default", "search"}


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_shipped_experiment_loads(path: Path) -> None:
    config = load_config(path)
    assert config.name == path.stem


def test_the_search_grid_expands_to_validated_candidates() -> None:
    config = load_config(next(p for p in EXPERIMENTS if p.stem == "search"))
    candidates = candidate_configs(config)
    assert len(candidates) == 6
    assert {(c.num_leaves, c.learning_rate) for c in candidates} == {
        (leaves, rate) for leaves in (4, 7, 15) for rate in (0.05, 0.1)
    }
    assert all(isinstance(c.num_leaves, int) for c in candidates)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("name: x\nalert:\n  num_leaves: many\n", "alert.num_leaves"),
        ("name: x\nunknown: 1\n", "unknown"),
        ("name: Bad Name\n", "name"),
        ("name: x\nsearch:\n  depth: [1, 2]\n", "depth"),
        ("name: x\nsearch:\n  num_leaves: [7.5]\n", "num_leaves"),
        ("name: x\nalert_capacity: 1.5\n", "alert_capacity"),
        ("name: [unclosed\n", "not valid YAML"),
        ("name: x\nsearch:\n  num_leaves: [1]\n", "search.num_leaves: 1"),
        ("name: x\nsearch:\n  learning_rate: [-5.0]\n", "search.learning_rate"),
        ("name: x\nsearch:\n  n_estimators: [.inf]\n", "search.n_estimators: every value"),
        ("name: x\nexperiment: ''\n", "experiment"),
        ("- a\n- b\n", "a mapping of settings, not list"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=named):
        load_config(path)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_config(tmp_path / "missing.yaml")


def test_configs_are_frozen() -> None:
    config = TrainConfig(name="frozen")
    with pytest.raises(ValueError, match="frozen"):
        config.name = "changed"  # type: ignore[misc]


def test_a_config_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"name: \xff\xfe\x00 broken")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)
