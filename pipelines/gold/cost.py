"""Usage x price windows -> cost per usage record, never fanned out, never guessed."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.columns import multiply_money
from pipelines.silver.prices import RATE_CARD_SOURCE

NO_WORKSPACE_CLOUD = "cloud unknown: workspace not in the configuration"
NO_PRICE_WINDOW = "no usable price window for this sku, cloud, unit and currency holds the usage time"


def price_usage(usage: DataFrame, prices: DataFrame, currency: str) -> DataFrame:
    """Each usage row exactly once, with the price whose window holds its `usage_end_time`.

    Join on sku, cloud, unit and currency with
    `usage_end_time >= price_start_time AND (price_end_time IS NULL OR usage_end_time < price_end_time)`,
    Databricks' rule for list prices. A rate-card window must hold the whole usage period instead
    (`usage_start_time >= price_start_time AND usage_end_time <= price_end_time`), so an hour or day
    that straddles a rate change is left unpriced rather than priced at either rate.
    Only windows that overlap no other window of their key are used, so at most one matches.
    Unpriced rows keep NULL costs, with the reason in `unpriced_reason`. The reason depends on the row
    alone (so recomputing a few dates gives what a full rebuild gives); `silver.prices` says whether a
    SKU has no windows or overlapping ones.
    """
    valid = prices.where(~F.col("overlaps_other_window") & (F.col("currency_code") == currency)).select(
        F.col("sku_name").alias("_p_sku"),
        F.col("cloud").alias("_p_cloud"),
        F.col("usage_unit").alias("_p_unit"),
        "currency_code",
        "price_start_time",
        "price_end_time",
        "list_price",
        "effective_list_price",
        F.col("source").alias("_p_source"),
    )
    start, end = F.col("price_start_time"), F.col("price_end_time")
    end_in_window = (F.col("usage_end_time") >= start) & (end.isNull() | (F.col("usage_end_time") < end))
    period_in_window = (F.col("usage_start_time") >= start) & (end.isNull() | (F.col("usage_end_time") <= end))
    matches = (
        (F.col("sku_name") == F.col("_p_sku"))
        & (F.col("cloud") == F.col("_p_cloud"))
        & (F.col("usage_unit") == F.col("_p_unit"))
        & F.when(F.col("_p_source") == RATE_CARD_SOURCE, period_in_window).otherwise(end_in_window)
    )
    priced = usage.join(F.broadcast(valid), matches, "left").withColumns(
        {
            "list_cost": multiply_money(F.col("usage_quantity"), F.col("list_price")),
            "effective_cost": multiply_money(F.col("usage_quantity"), F.col("effective_list_price")),
        }
    )
    is_priced = F.col("effective_cost").isNotNull() & F.col("list_cost").isNotNull()
    reason = F.when(is_priced, F.lit(None)).when(F.col("cloud").isNull(), NO_WORKSPACE_CLOUD).otherwise(NO_PRICE_WINDOW)
    return priced.select(
        *usage.columns,
        F.coalesce(F.col("currency_code"), F.lit(currency)).alias("currency_code"),
        "price_start_time",
        "price_end_time",
        "list_price",
        "effective_list_price",
        "list_cost",
        "effective_cost",
        is_priced.alias("is_priced"),
        reason.alias("unpriced_reason"),
    )
