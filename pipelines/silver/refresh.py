"""Refresh silver tables from bronze: only the usage dates that changed, in one commit each."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pipelines.config import PipelineConfig, RateCard, fingerprint_of
from pipelines.incremental import Plan, date_partitions, existing_usage_dates, plan, refresh_by_date
from pipelines.logs import fields, progress
from pipelines.silver import dremio_usage, legacy_usage, system_usage
from pipelines.silver.precedence import covered_days, prefer_system_tables, superseded_legacy
from pipelines.silver.prices import PRICE_KEY, PriceWindow, changed_periods, rate_card_windows, to_prices
from pipelines.silver.sku_mapping import sku_map_frame, workspaces_frame
from pipelines.storage import Replace, TableStore
from pipelines.tables import (
    DREMIO_USAGE,
    LEGACY_USAGE,
    LIST_PRICES,
    PRICES,
    SUPERSEDED_LEGACY,
    SYSTEM_USAGE,
    USAGE,
    TableSpec,
)

log = logging.getLogger(__name__)


def typed_legacy_usage(
    store: TableStore, config: PipelineConfig, dates: list[date] | None, workspaces: DataFrame, sku_map: DataFrame
) -> DataFrame:
    """Every legacy CSV row of the given dates (all when None) in the silver schema, before precedence."""
    if dates is None:
        return legacy_usage.to_usage(store.read(LEGACY_USAGE), workspaces, sku_map, config.account_id)
    months = sorted({d.strftime("%Y-%m") for d in dates})
    bronze = store.read(LEGACY_USAGE, [{"usage_month": m} for m in months])
    usage = legacy_usage.to_usage(bronze, workspaces, sku_map, config.account_id)
    return usage.where(F.col("usage_date").isin(dates))


def refresh_usage(spark: SparkSession, store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute silver usage for the dates whose bronze records changed, from every source."""
    workspaces, sku_map = workspaces_frame(spark, config), sku_map_frame(spark, config)

    def build(dates: list[date] | None) -> DataFrame:
        partitions = None if dates is None else date_partitions(dates)
        legacy = typed_legacy_usage(store, config, dates, workspaces, sku_map)
        system_bronze = store.read(SYSTEM_USAGE, partitions)
        system = system_usage.to_usage(system_bronze)
        usage = prefer_system_tables(legacy, system, covered_days(system_bronze))
        if config.dremio is not None:
            usage = usage.unionByName(dremio_usage.to_usage(store.read(DREMIO_USAGE, partitions), config.dremio))
        return usage

    fingerprint = config.fingerprint("workspaces", "skus", "account_id", "dremio_grain")
    return refresh_by_date(store, USAGE, [LEGACY_USAGE, SYSTEM_USAGE, DREMIO_USAGE], fingerprint, build)


def refresh_superseded_legacy_usage(spark: SparkSession, store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute the legacy rows silver usage leaves out, for the dates whose legacy or system records changed.

    Its own refresh, with its own consumed input versions, so a run stopped between this commit and
    silver usage's is finished by the next one. Only the dates the system tables have can hold such
    rows, so only those are typed (again: silver usage typed them too); without system tables this
    reads no legacy row at all.
    """
    workspaces, sku_map = workspaces_frame(spark, config), sku_map_frame(spark, config)
    system_dates = existing_usage_dates(store, SYSTEM_USAGE)

    def build(dates: list[date] | None) -> DataFrame:
        overlap = sorted(set(system_dates()) if dates is None else set(system_dates()) & set(dates))
        if not overlap:
            return store.empty(SUPERSEDED_LEGACY)
        legacy = typed_legacy_usage(store, config, overlap, workspaces, sku_map)
        covered = covered_days(store.read(SYSTEM_USAGE, date_partitions(overlap)))
        return superseded_legacy(legacy, covered).repartition(F.col("usage_date"))

    fingerprint = config.fingerprint("workspaces", "skus", "account_id")
    return refresh_by_date(store, SUPERSEDED_LEGACY, [LEGACY_USAGE, SYSTEM_USAGE], fingerprint, build)


LIST_PRICE_VALUES = ("list_price", "effective_list_price", "overlaps_other_window")


def changed_price_ranges(
    old: DataFrame, new: DataFrame, values: Sequence[str] = LIST_PRICE_VALUES
) -> list[list[str | None]]:
    """Usage-date ranges whose price changed between two versions of a price-window table (`values` its prices).

    Only the windows that differ are collected (prices are a small reference table). A usage
    record is priced by its end time and dated by its start, so a period starting at midnight
    also touches the day before.
    """
    columns = [*PRICE_KEY, "price_start_time", "price_end_time", *values]
    old, new = old.select(columns), new.select(columns)
    changed = (
        old.exceptAll(new)
        .withColumn("_side", F.lit("old"))
        .unionByName(new.exceptAll(old).withColumn("_side", F.lit("new")))
    )
    by_key: dict[tuple[object, ...], dict[str, list[PriceWindow]]] = {}
    for row in changed.collect():
        key = tuple(row[c] for c in PRICE_KEY)
        window = (row.price_start_time, row.price_end_time, tuple(row[c] for c in values))
        by_key.setdefault(key, {"old": [], "new": []})[row["_side"]].append(window)
    ranges = []
    for sides in by_key.values():
        for start, end in changed_periods(sides["old"], sides["new"]):
            first = (start - timedelta(hours=1)).date()
            ranges.append([first.isoformat(), None if end is None else end.date().isoformat()])
    return ranges


def refresh_prices(store: TableStore, rate_cards: Sequence[RateCard] = ()) -> int | None:
    """Rebuild silver prices when bronze list prices or the rate cards changed; record which windows changed."""
    fingerprint = "prices-v2-" + fingerprint_of(list(rate_cards))
    todo = plan(store, PRICES, [LIST_PRICES], fingerprint=fingerprint)
    if todo.scope.is_empty() and store.version(PRICES) is not None:
        log.info("%s is up to date: list prices and rate cards unchanged since it was built", PRICES)
        return None
    log.info("rebuilding %s because %s", PRICES, "; ".join(todo.reasons), extra=fields(reasons=todo.reasons))
    new = store.conform(PRICES, to_prices(store.read(LIST_PRICES), rate_card_windows(store.spark, rate_cards)))
    return write_price_windows(store, PRICES, new, LIST_PRICE_VALUES, todo, fingerprint)


def write_price_windows(
    store: TableStore, table: TableSpec, new: DataFrame, values: Sequence[str], todo: Plan, fingerprint: str
) -> int:
    """Replace a price-window table with `new`, recording the usage-date ranges whose price changed.

    `new` is a small reference table used three times (changed windows, overlaps, the write): built once.
    Windows that overlap another of their key are warned about: cost never uses them.
    """
    new = new.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        ranges = changed_price_ranges(store.read(table), new, values)
        overlapping = new.where("overlaps_other_window").select("sku_name", "cloud", "usage_unit").distinct().collect()
        for row in overlapping:
            log.warning("overlapping windows in %s for %s / %s / %s: not used for cost", table, *row)
        if ranges:
            affected = ", ".join(f"{start}..{end}" if end else f"{start} onwards" for start, end in ranges)
            log.info("changed %s apply to usage dates %s", table, affected, extra=fields(ranges=ranges))
        metadata = {"inputs": todo.versions, "fingerprint": fingerprint, "changed": {"price_ranges": ranges}}
        version = store.write(table, new, Replace.all(), metadata)
    finally:
        new.unpersist()
    progress(f"{table}: written as version {version}", table=str(table), version=version)
    return version
