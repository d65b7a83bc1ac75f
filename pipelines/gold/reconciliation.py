"""Legacy CSV vs system tables: both sources' totals per workspace, day, SKU and unit, side by side."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

KEYS = ("usage_date", "workspace_id", "sku_name", "usage_unit")


def _totals(usage: DataFrame, prefix: str) -> DataFrame:
    return usage.groupBy(*KEYS).agg(
        F.sum("usage_quantity").alias(f"{prefix}_quantity"), F.count(F.lit(1)).alias(f"{prefix}_record_count")
    )


def source_reconciliation(legacy: DataFrame, system: DataFrame, covered: DataFrame) -> DataFrame:
    """One row per (day, workspace, SKU, unit) either source reports.

    `legacy` is every typed legacy row (also those silver left out), `system` the netted system rows,
    `covered` the workspace-days the system tables cover. `difference` is legacy minus system (a
    missing side counts as zero); `source_used` says which source silver and gold use for that day.
    """
    both = _totals(legacy, "legacy").join(_totals(system, "system"), list(KEYS), "full_outer")
    zero = F.lit(0).cast("decimal(38,18)")
    flagged = both.join(
        F.broadcast(covered.withColumn("_covered", F.lit(True))), ["workspace_id", "usage_date"], "left"
    )
    return flagged.select(
        *KEYS,
        "legacy_quantity",
        "system_quantity",
        (F.coalesce(F.col("legacy_quantity"), zero) - F.coalesce(F.col("system_quantity"), zero))
        .cast("decimal(38,18)")
        .alias("difference"),
        F.coalesce(F.col("legacy_record_count"), F.lit(0)).alias("legacy_record_count"),
        F.coalesce(F.col("system_record_count"), F.lit(0)).alias("system_record_count"),
        F.when(F.col("_covered"), F.lit("system_tables")).otherwise(F.lit("legacy_csv")).alias("source_used"),
    )
