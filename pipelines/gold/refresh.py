"""Refresh gold tables from silver: only the usage dates whose usage or prices changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig
from pipelines.gold import aggregates
from pipelines.gold.contracted import with_contracted_price
from pipelines.gold.cost import price_usage
from pipelines.gold.reconciliation import source_reconciliation
from pipelines.incremental import date_partitions, existing_usage_dates, refresh_by_date
from pipelines.storage import TableStore
from pipelines.tables import (
    CONTRACTED_PRICES,
    COST,
    COST_BY_IDENTITY,
    COST_BY_TAG,
    COST_BY_WORKLOAD,
    COST_DAILY,
    DISCOUNT_RULES,
    PRICES,
    SOURCE_RECONCILIATION,
    SUPERSEDED_LEGACY,
    UNPRICED_USAGE,
    USAGE,
    TableSpec,
)

# No setting shapes the reconciliation (silver applied the SKU and workspace settings): the rule's version does.
RECONCILIATION_VERSION = "reconciliation-from-silver-v1"
# Appended to the settings' fingerprint when a rule or contract of gold changes: a warehouse built before
# rebuilds the table once, with the new columns (v2: contracted prices in cost and contracted_cost in aggregates).
COST_VERSION = "cost-v2-contracted"
AGGREGATES_VERSION = "aggregates-v2-contracted"


def _reader(store: TableStore, table: TableSpec) -> Callable[[list[date] | None], DataFrame]:
    def read(dates: list[date] | None) -> DataFrame:
        return store.read(table) if dates is None else store.read(table, date_partitions(dates))

    return read


def refresh_cost(store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute cost for dates with changed usage, and for existing dates inside changed price windows.

    List, account prices and discount rules are all price windows: a changed one records the date range
    it covers (`price_ranges`), so only those usage dates are priced again. A price table never written
    (no account prices delivered, no discounts configured) reads as empty: every row keeps list price.
    """
    read_usage = _reader(store, USAGE)

    def build(dates: list[date] | None) -> DataFrame:
        # Silver holds one file per date and the price joins are broadcasts, so no shuffle is needed here.
        priced = price_usage(read_usage(dates), store.read(PRICES), config.currency)
        return with_contracted_price(priced, store.read(CONTRACTED_PRICES), store.read(DISCOUNT_RULES))

    fingerprint = f"{config.fingerprint('currency')}-{COST_VERSION}"
    inputs = [USAGE, PRICES, CONTRACTED_PRICES, DISCOUNT_RULES]
    return refresh_by_date(store, COST, inputs, fingerprint, build, existing_usage_dates(store, USAGE))


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

        fingerprint = f"{config.fingerprint('currency')}-{AGGREGATES_VERSION}"
        versions[table.key] = refresh_by_date(store, table, [COST], fingerprint, build)
    return versions


def refresh_reconciliation(store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute legacy-vs-system totals for the dates whose silver usage or superseded legacy rows changed.

    Built from the two silver tables alone: silver usage holds the legacy rows of uncovered
    workspace-days and the system rows, `silver.superseded_legacy_usage` the legacy rows it left out.
    """
    read_usage, read_superseded = _reader(store, USAGE), _reader(store, SUPERSEDED_LEGACY)

    def build(dates: list[date] | None) -> DataFrame:
        reconciled = source_reconciliation(read_usage(dates), read_superseded(dates))
        return reconciled.repartition(F.col("usage_date"))

    return refresh_by_date(store, SOURCE_RECONCILIATION, [USAGE, SUPERSEDED_LEGACY], RECONCILIATION_VERSION, build)
