"""What every monitoring check is: a name, its limits, the files it writes and one ``run`` that
takes the shared context and returns a ``CheckResult``. The monitor runs the configured checks in
order; the writers (stdout, ``index.html``, ``summary.json``, the CSV tables, MLflow) take their
results as they are, so a new check touches nothing but its own module, one registry line
(``monitoring/checks/__init__.py``) and its entry in the configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import pandas as pd
from pydantic import BaseModel

from monitoring.config import MonitorConfig
from monitoring.sources import Scored

LimitsT = TypeVar("LimitsT", bound=BaseModel)
T = TypeVar("T")


@dataclass
class CheckContext:
    """What every check of one run sees."""

    reference: Scored
    current: Scored
    config: MonitorConfig
    #: the report folder (created and emptied of an earlier run's files before the checks run)
    out: Path
    #: what one check computed that another may use, by key (the feature and prediction drift
    #: checks share one Evidently drift report: it is the slow part of a run)
    cache: dict[str, Any] = field(default_factory=dict)

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, called at the first request for ``key`` in this run only."""
        if key not in self.cache:
            self.cache[key] = compute()
        return cast(T, self.cache[key])


@dataclass
class CheckResult:
    """What a check found, in the one shape the writers know."""

    #: one sentence per limit breached; any breach makes the run's exit code 1
    breaches: list[str] = field(default_factory=list)
    #: MLflow metrics, also summary.json's "metrics". Keep a name and its trend continues.
    metrics: dict[str, float] = field(default_factory=dict)
    #: written as ``<name>.csv`` and shown in index.html (groups too small to show left out)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: shown in index.html only, before the tables
    page_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: top-level fields of summary.json
    summary: dict[str, Any] = field(default_factory=dict)
    #: lines of the summary on stdout (and at the top of index.html)
    lines: list[str] = field(default_factory=list)
    #: what to keep in mind reading the figures (printed as NOTE lines)
    notes: list[str] = field(default_factory=list)
    #: files of the report folder worth a link from index.html, with what they are
    links: dict[str, str] = field(default_factory=dict)
    #: MLflow run parameters: the limits the run's metrics are to be read against
    params: dict[str, str | float | int] = field(default_factory=dict)


class Check(Protocol[LimitsT]):
    """One monitoring check. Plain class attributes satisfy the three properties."""

    @property
    def name(self) -> str:
        """Its name in the configuration (``checks``, ``limits.<name>``) and in the timings."""
        ...

    @property
    def limits_type(self) -> type[LimitsT]:
        """The frozen pydantic model of its ``limits.<name>`` section (every field a default)."""
        ...

    @property
    def files(self) -> tuple[str, ...]:
        """Every file it may write into the report folder, its tables' ``<name>.csv`` included:
        an earlier run's are removed first, so that none is mistaken for this run's."""
        ...

    def run(self, context: CheckContext, limits: LimitsT) -> CheckResult: ...


#: groups with fewer clients than this are left out of the written tables: a rate over a handful
#: of people (a rare language in one region) would tell about those people. The checks never use
#: such groups (their min_group_size is larger).
MIN_SHOWN_GROUP = 10


def small_groups_hidden(table: pd.DataFrame, sizes: list[str]) -> pd.DataFrame:
    """``table`` without the rows where any of the ``sizes`` columns is under MIN_SHOWN_GROUP."""
    small = (table[sizes] < MIN_SHOWN_GROUP).any(axis=1)
    return table[~small].reset_index(drop=True)
