"""Plan and apply incremental refreshes from table state alone.

Every derived table's commit records the versions of the inputs it consumed, a fingerprint of the
settings that shape it, and what it changed (usage dates, months, price windows, or everything).
A refresh compares its inputs' current versions with the ones its last commit consumed, reads
what the input commits in between changed, and recomputes exactly those usage dates. Nothing is
remembered between runs except what is in the Delta logs, so a run stopped anywhere is finished
correctly by the next one.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pyspark.sql import DataFrame

from pipelines.logs import fields, progress
from pipelines.storage import Commit, Replace, TableStore
from pipelines.tables import TableSpec

log = logging.getLogger(__name__)

DATE_COLUMN = "usage_date"


@dataclass(frozen=True)
class Scope:
    """Usage dates to recompute: named dates, date ranges (resolved against existing data), or all."""

    everything: bool = False
    dates: frozenset[date] = frozenset()
    ranges: tuple[tuple[date, date | None], ...] = ()

    def __or__(self, other: Scope) -> Scope:
        return Scope(self.everything or other.everything, self.dates | other.dates, self.ranges + other.ranges)

    def is_empty(self) -> bool:
        return not (self.everything or self.dates or self.ranges)

    def resolve(self, existing: Iterable[date]) -> list[date]:
        """The named dates plus every existing date inside a range."""
        in_ranges = {d for d in existing if any(start <= d and (end is None or d <= end) for start, end in self.ranges)}
        return sorted(self.dates | in_ranges)


EVERYTHING = Scope(everything=True)


def _month_days(month: str) -> set[date]:
    year, number = (int(part) for part in month.split("-"))
    return {date(year, number, day) for day in range(1, calendar.monthrange(year, number)[1] + 1)}


def scope_of(commit: Commit) -> Scope:
    """What one input commit changed, from its metadata; a commit without it changed everything."""
    changed: dict[str, Any] = commit.metadata.get("changed") or {}
    if not changed or changed.get("everything"):
        return EVERYTHING
    dates: set[date] = {date.fromisoformat(d) for d in changed.get("usage_dates", [])}
    for month in changed.get("usage_months", []):
        dates |= _month_days(month)
    ranges = tuple(
        (date.fromisoformat(start), None if end is None else date.fromisoformat(end))
        for start, end in changed.get("price_ranges", [])
    )
    return Scope(dates=frozenset(dates), ranges=ranges)


def describe_change(commit: Commit) -> str:
    """What one input commit changed, in words: `usage months 2024-03`, `price windows from 2024-04-01`, ..."""
    changed: dict[str, Any] = commit.metadata.get("changed") or {}
    if not changed or changed.get("everything"):
        return "everything"
    parts = []
    if changed.get("usage_dates"):
        parts.append("usage dates " + date_ranges(date.fromisoformat(d) for d in changed["usage_dates"]))
    if changed.get("usage_months"):
        parts.append("usage months " + ", ".join(sorted(changed["usage_months"])))
    for start, end in changed.get("price_ranges", []):
        parts.append(f"price windows from {start}" + ("" if end is None else f" to {end}"))
    return ", ".join(parts) or "no usage dates"


def date_ranges(dates: Iterable[date]) -> str:
    """`2024-03-01..2024-03-31, 2024-04-02`: consecutive dates folded into ranges."""
    runs: list[list[date]] = []
    for day in sorted(set(dates)):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs) or "none"


@dataclass
class Plan:
    """What a refresh of one table has to do."""

    target: TableSpec
    scope: Scope
    versions: dict[str, int | None] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def inputs_moved(self) -> bool:
        return bool(self.reasons)


def plan(store: TableStore, target: TableSpec, inputs: Sequence[TableSpec], fingerprint: str) -> Plan:
    """Compare the target's last consumed input versions with the inputs' current ones."""
    versions = {table.key: store.version(table) for table in inputs}
    last = store.last_commit(target)
    if last is None:
        return Plan(target, EVERYTHING, versions, ["first build"])
    if last.metadata.get("fingerprint") != fingerprint:
        return Plan(target, EVERYTHING, versions, ["settings changed since the last build"])
    consumed: dict[str, int | None] = last.metadata.get("inputs", {})
    scope, reasons = Scope(), []
    for table in inputs:
        before, now = consumed.get(table.key), versions[table.key]
        if before == now:
            continue
        # An input that did not exist at the last build (a source added since) is read from its first commit.
        commits = None if now is None else store.history(table, -1 if before is None else before)
        if commits is None:
            scope, reason = EVERYTHING, f"{table} history not available from version {before}"
        else:
            for commit in commits:
                scope = scope | scope_of(commit)
            changes = "; ".join(f"v{c.version} changed {describe_change(c)}" for c in commits) or "no commits"
            reason = f"{table} moved from version {before} to {now} ({changes})"
        reasons.append(reason)
    return Plan(target, scope, versions, reasons)


def date_partitions(dates: Iterable[date], column: str = DATE_COLUMN) -> list[dict[str, str]]:
    return [{column: d.isoformat()} for d in dates]


def refresh_by_date(
    store: TableStore,
    target: TableSpec,
    inputs: Sequence[TableSpec],
    fingerprint: str,
    build: Callable[[list[date] | None], DataFrame],
    existing_dates: Callable[[], Iterable[date]] = lambda: (),
    date_column: str = DATE_COLUMN,
    dependents: Callable[[Scope], Scope] | None = None,
) -> int | None:
    """Recompute the usage dates the inputs changed (or everything) and replace them in one commit.

    `build(None)` must return the whole table, `build(dates)` only those dates. Returns the new
    version, or None when nothing changed (then nothing is written). `date_column` is the target's
    usage-date partition column. `dependents` widens the changed dates to every date whose rows read
    them (a baseline computed from earlier days); its ranges resolve against `existing_dates`.
    """
    todo = plan(store, target, inputs, fingerprint)
    if dependents is not None and not todo.scope.everything:
        todo.scope = dependents(todo.scope)
    if not todo.inputs_moved:
        log.info("%s is up to date: its inputs are at the versions it last consumed %s", target, todo.versions)
        return None
    metadata: dict[str, Any] = {"inputs": todo.versions, "fingerprint": fingerprint}
    why = "; ".join(todo.reasons)
    if todo.scope.everything:
        progress(f"{target}: rebuilding every usage date", table=str(target), usage_dates="all")
        log.info("rebuilding %s because %s", target, why, extra=fields(table=str(target), reasons=todo.reasons))
        data, replace = build(None), Replace.all()
        metadata["changed"] = {"everything": True}
    else:
        dates = todo.scope.resolve(existing_dates() if todo.scope.ranges else ())
        progress(f"{target}: recomputing {len(dates)} usage dates", table=str(target), usage_dates=len(dates))
        log.info(
            "recomputing %s usage dates %s because %s",
            target,
            date_ranges(dates),
            why,
            extra=fields(table=str(target), reasons=todo.reasons),
        )
        data, replace = build(dates), Replace.where(date_partitions(dates, date_column))
        metadata["changed"] = {"usage_dates": [d.isoformat() for d in dates]}
        if not dates:  # an input moved without touching any date: record that it was consumed
            data = data.limit(0)
    version = store.write(target, data, replace, metadata)
    progress(f"{target}: written as version {version}", table=str(target), version=version)
    return version


def existing_usage_dates(store: TableStore, table: TableSpec, column: str = DATE_COLUMN) -> Callable[[], list[date]]:
    """The usage dates a date-partitioned table holds, read from its log."""

    def dates() -> list[date]:
        values = (p.get(column) for p in store.partition_values(table))
        return sorted(date.fromisoformat(value) for value in values if value)

    return dates
