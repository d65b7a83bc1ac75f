"""Aggregates over gold cost. Units and currencies are always grouping keys, never summed together."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

DAILY_KEYS = ("usage_date", "source", "workspace_id", "cloud", "sku_name", "usage_unit", "currency_code")


def cost_daily(cost: DataFrame) -> DataFrame:
    """Quantity and cost per day, source, workspace, cloud, SKU, unit and currency.

    `list_cost`/`effective_cost` sum priced rows only; `priced_quantity` and `unpriced_record_count`
    say how much of the day's usage that covers.
    """
    unpriced = (~F.col("is_priced")).cast("long")
    return cost.groupBy(*DAILY_KEYS).agg(
        F.sum("usage_quantity").alias("usage_quantity"),
        F.sum(F.when(F.col("is_priced"), F.col("usage_quantity"))).alias("priced_quantity"),
        F.sum("list_cost").alias("list_cost"),
        F.sum("effective_cost").alias("effective_cost"),
        F.count(F.lit(1)).alias("record_count"),
        F.sum(unpriced).alias("unpriced_record_count"),
    )


def unpriced_usage(cost: DataFrame) -> DataFrame:
    """Every usage record without a price, with the reason."""
    return cost.where(~F.col("is_priced")).select(
        "usage_date",
        "record_id",
        "source",
        "workspace_id",
        "cloud",
        "sku_name",
        "sku_name_delivered",
        "usage_unit",
        "usage_quantity",
        "usage_start_time",
        "usage_end_time",
        "unpriced_reason",
    )
