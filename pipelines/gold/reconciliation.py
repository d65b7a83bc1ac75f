"""Legacy CSV vs system tables: both sources' totals per workspace, day, SKU and unit, side by side."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipelines import source_names

KEYS = ("usage_date", "workspace_id", "sku_name", "usage_unit")
WORKSPACE_DAY = ("workspace_id", "usage_date")
LEGACY, SYSTEM = source_names.USAGE_LEGACY_CSV, source_names.USAGE_SYSTEM_TABLES


def _side(rows: DataFrame, side: str, covered: Column) -> DataFrame:
    return rows.select(*KEYS, "usage_quantity", F.lit(side).alias("_side"), covered.alias("_covered"))


def _of(side: str, value: Column) -> Column:
    return F.when(F.col("_side") == side, value)


def source_reconciliation(usage: DataFrame, superseded: DataFrame) -> DataFrame:
    """One row per (day, workspace, SKU, unit) either source reports, from the two silver tables.

    `usage` is silver usage: its legacy rows are those of the workspace-days the system tables do not
    cover, its system rows are netted. `superseded` holds the legacy rows silver left out because the
    system tables cover their workspace-day. Legacy totals count both; `difference` is legacy minus
    system (a missing side counts as zero); `source_used` says which source silver and gold use there.

    A workspace-day counts as covered when silver has system rows or superseded legacy rows for it.
    Silver decided coverage from the system records as delivered (any record for the workspace-day,
    even records that net to zero), and for every row this emits the two agree: a workspace-day holds
    either silver legacy rows only (no system record was delivered for it, so no system or superseded
    row either) or system and superseded rows only (a superseded row is covered by definition, a
    system row too, as netting keeps workspace and date). They differ only for a workspace-day whose
    system records all net to zero and that has no legacy rows, and such a day emits no row at all.
    """
    rows = (
        _side(usage.where(F.col("source") == LEGACY), LEGACY, F.lit(False))
        .unionByName(_side(superseded, LEGACY, F.lit(True)))
        .unionByName(_side(usage.where(F.col("source") == SYSTEM), SYSTEM, F.lit(True)))
    )
    quantity = F.col("usage_quantity")
    totals = rows.groupBy(*KEYS).agg(
        F.sum(_of(LEGACY, quantity)).alias("legacy_quantity"),
        F.sum(_of(SYSTEM, quantity)).alias("system_quantity"),
        F.count(_of(LEGACY, F.lit(1))).alias("legacy_record_count"),
        F.count(_of(SYSTEM, F.lit(1))).alias("system_record_count"),
        F.max("_covered").alias("_group_covered"),
    )
    covered = F.max("_group_covered").over(Window.partitionBy(*WORKSPACE_DAY))
    zero = F.lit(0).cast("decimal(38,18)")
    return totals.select(
        *KEYS,
        "legacy_quantity",
        "system_quantity",
        (F.coalesce(F.col("legacy_quantity"), zero) - F.coalesce(F.col("system_quantity"), zero))
        .cast("decimal(38,18)")
        .alias("difference"),
        "legacy_record_count",
        "system_record_count",
        F.when(covered, F.lit(SYSTEM)).otherwise(F.lit(LEGACY)).alias("source_used"),
    )
