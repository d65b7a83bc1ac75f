"""Refresh gold tables from silver: only the usage dates whose usage or prices changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig
from pipelines.gold import aggregates
from pipelines.gold.cost import price_usage
from pipelines.gold.reconciliation import KEYS as RECONCILED_KEYS
from pipelines.gold.reconciliation import source_reconciliation
from pipelines.incremental import date_partitions, existing_usage_dates, refresh_by_date
from pipelines.silver import legacy_usage, system_usage
from pipelines.silver.precedence import covered_days
from pipelines.silver.refresh import typed_legacy_usage
from pipelines.silver.sku_mapping import sku_map_frame, workspaces_frame
from pipelines.storage import TableStore
from pipelines.tables import (
    COST,
    COST_BY_IDENTITY,
    COST_BY_TAG,
    COST_BY_WORKLOAD,
    COST_DAILY,
    LEGACY_USAGE,
    PRICES,
    SOURCE_RECONCILIATION,
    SYSTEM_USAGE,
    UNPRICED_USAGE,
    USAGE,
    TableSpec,
)

RECONCILED_COLUMNS = (*RECONCILED_KEYS, "usage_quantity")


def _reader(store: TableStore, table: TableSpec) -> Callable[[list[date] | None], DataFrame]:
    def read(dates: list[date] | None) -> DataFrame:
        return store.read(table) if dates is None else store.read(table, date_partitions(dates))

    return read


def refresh_cost(store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute cost for dates with changed usage, and for existing dates inside changed price windows."""
    read_usage = _reader(store, USAGE)

    def build(dates: list[date] | None) -> DataFrame:
        # Silver holds one file per date and the price join is a broadcast, so no shuffle is needed here.
        return price_usage(read_usage(dates), store.read(PRICES), config.currency)

    fingerprint = config.fingerprint("currency")
    return refresh_by_date(store, COST, [USAGE, PRICES], fingerprint, build, existing_usage_dates(store, USAGE))


def refresh_aggregates(store: TableStore, config: PipelineConfig) -> dict[str, int | None]:
    """Recompute the aggregates for the dates whose cost changed.

    Each reads gold cost again, only the columns it groups by: cheaper than persisting the shared
    columns of a million wide rows once (measured), and nothing to release when a write fails.
    """
    read_cost = _reader(store, COST)
    builders: dict[TableSpec, Callable[[DataFrame], DataFrame]] = {
        COST_DAILY: aggregates.cost_daily,
        COST_BY_TAG: aggregates.cost_by_tag,
        COST_BY_WORKLOAD: aggregates.cost_by_workload,
        COST_BY_IDENTITY: aggregates.cost_by_identity,
        UNPRICED_USAGE: aggregates.unpriced_usage,
    }
    versions = {}
    for table, transform in builders.items():

        def build(dates: list[date] | None, transform: Callable[[DataFrame], DataFrame] = transform) -> DataFrame:
            return transform(aggregates.attribution(read_cost(dates))).repartition(F.col("usage_date"))

        versions[table.key] = refresh_by_date(store, table, [COST], config.fingerprint("currency"), build)
    return versions


def refresh_reconciliation(store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute legacy-vs-system totals for the dates whose legacy, system or silver rows changed."""
    spark = store.spark
    workspaces, sku_map = workspaces_frame(spark, config), sku_map_frame(spark, config)
    read_usage, read_system = _reader(store, USAGE), _reader(store, SYSTEM_USAGE)

    def build(dates: list[date] | None) -> DataFrame:
        silver = read_usage(dates)
        covered = covered_days(read_system(dates))
        legacy = silver.where(F.col("source") == legacy_usage.SOURCE).select(*RECONCILED_COLUMNS)
        # Silver holds every legacy row except those of workspace-days the system tables cover; only
        # the dates the system tables have are typed again from bronze, to add the rows silver left out.
        system_dates = set(existing_usage_dates(store, SYSTEM_USAGE)())
        overlap = sorted(system_dates if dates is None else system_dates & set(dates))
        if overlap:
            typed = typed_legacy_usage(store, config, overlap, workspaces, sku_map)
            left_out = typed.join(F.broadcast(covered), ["workspace_id", "usage_date"], "left_semi")
            legacy = legacy.unionByName(left_out.select(*RECONCILED_COLUMNS))
        system = silver.where(F.col("source") == system_usage.SOURCE)
        return source_reconciliation(legacy, system, covered).repartition(F.col("usage_date"))

    fingerprint = config.fingerprint("workspaces", "skus", "account_id")
    inputs = [LEGACY_USAGE, SYSTEM_USAGE, USAGE]
    return refresh_by_date(store, SOURCE_RECONCILIATION, inputs, fingerprint, build)
