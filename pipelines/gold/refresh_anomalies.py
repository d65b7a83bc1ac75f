"""Refresh gold.cost_anomalies: the days whose cost, or whose baseline's cost, changed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig
from pipelines.gold.anomalies import Detection, cost_anomalies, dependent_dates, history_dates
from pipelines.incremental import Scope, date_partitions, existing_usage_dates, refresh_by_date
from pipelines.storage import TableStore
from pipelines.tables import COST_ANOMALIES, COST_BY_IDENTITY, COST_BY_TAG, COST_BY_WORKLOAD

# Appended to the settings' fingerprint when the detection rule changes, so a warehouse rebuilds the table once.
ANOMALIES_VERSION = "anomalies-v1-weekday-median"
INPUTS = (COST_BY_WORKLOAD, COST_BY_TAG, COST_BY_IDENTITY)


def detection_of(config: PipelineConfig) -> Detection:
    settings = config.anomalies
    return Detection(
        threshold_percent=settings.threshold_percent,
        min_change=settings.min_change,
        weeks=settings.weeks,
        top_contributors=settings.top_contributors,
        tag_keys=settings.tag_keys,
        account_name=config.focus.billing_account_name or config.account_id or "account",
        workspace_names=config.workspace_names,
    )


def dependents(weeks: int) -> Callable[[Scope], Scope]:
    """A changed day changes its own anomalies and those of the same weekday in the `weeks` weeks after it."""

    def widen(scope: Scope) -> Scope:
        days = dependent_dates(scope.dates, weeks)
        ranges = tuple((start, None if end is None else end + timedelta(days=7 * weeks)) for start, end in scope.ranges)
        return Scope(dates=frozenset(), ranges=tuple((day, day) for day in days) + ranges)

    return widen


def with_history(dates: Iterable[date], existing: Iterable[date], weeks: int) -> list[date]:
    """The dates that exist with the same weekday of each of the `weeks` weeks before them (usage of any currency)."""
    held = set(existing)
    return sorted(d for d in dates if all(d - timedelta(days=7 * lag) in held for lag in range(weeks + 1)))


def refresh_anomalies(store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute the anomalies of the usage dates the aggregates changed and of the days whose baseline reads them.

    Dependent days are resolved against the dates the aggregates hold, so a day not delivered yet is not written.
    """
    detection = detection_of(config)

    existing = existing_usage_dates(store, COST_BY_WORKLOAD)

    def build(dates: list[date] | None) -> DataFrame:
        # Decided from the log alone: most runs of a short history have no day to evaluate, and then no Spark job.
        evaluated = with_history(existing() if dates is None else dates, existing(), detection.weeks)
        if not evaluated:
            return store.empty(COST_ANOMALIES)
        read = date_partitions(history_dates(evaluated, detection.weeks))
        workload, tags, identity = (store.read(table, read) for table in INPUTS)
        return cost_anomalies(workload, tags, identity, detection, evaluated).repartition(F.col("usage_date"))

    settings = config.fingerprint("anomalies", "workspace_names", "account_id", "focus")
    return refresh_by_date(
        store,
        COST_ANOMALIES,
        list(INPUTS),
        f"{settings}-{ANOMALIES_VERSION}",
        build,
        existing,
        dependents=dependents(detection.weeks),
    )
