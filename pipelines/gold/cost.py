"""Usage x price windows -> cost per usage record, never fanned out, never guessed."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.columns import multiply_money

NO_WORKSPACE_CLOUD = "cloud unknown: workspace not in the configuration"
NO_PRICE_FOR_SKU = "no list price for this sku, cloud, unit and currency"
NO_WINDOW = "no price window covers the usage end time"
OVERLAPPING = "overlapping price windows for this sku: not used"


def price_usage(usage: DataFrame, prices: DataFrame, currency: str) -> DataFrame:
    """Each usage row exactly once, with the price whose window holds its `usage_end_time`.

    Join on sku, cloud, unit and currency with
    `usage_end_time >= price_start_time AND (price_end_time IS NULL OR usage_end_time < price_end_time)`.
    Only windows that overlap no other window of their key are used, so at most one matches.
    Unpriced rows keep NULL prices and costs, with the reason in `unpriced_reason`.
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
    )
    keys = (
        prices.where(F.col("currency_code") == currency)
        .groupBy(
            F.col("sku_name").alias("_k_sku"), F.col("cloud").alias("_k_cloud"), F.col("usage_unit").alias("_k_unit")
        )
        .agg(F.max(F.col("overlaps_other_window").cast("int")).alias("_k_overlaps"))
    )
    matches = (
        (F.col("sku_name") == F.col("_p_sku"))
        & (F.col("cloud") == F.col("_p_cloud"))
        & (F.col("usage_unit") == F.col("_p_unit"))
        & (F.col("usage_end_time") >= F.col("price_start_time"))
        & (F.col("price_end_time").isNull() | (F.col("usage_end_time") < F.col("price_end_time")))
    )
    key_matches = (
        (F.col("sku_name") == F.col("_k_sku"))
        & (F.col("cloud") == F.col("_k_cloud"))
        & (F.col("usage_unit") == F.col("_k_unit"))
    )
    priced = usage.join(F.broadcast(valid), matches, "left").join(F.broadcast(keys), key_matches, "left")
    is_priced = F.col("price_start_time").isNotNull()
    reason = (
        F.when(is_priced, F.lit(None))
        .when(F.col("cloud").isNull(), NO_WORKSPACE_CLOUD)
        .when(F.col("_k_sku").isNull(), NO_PRICE_FOR_SKU)
        .when(F.col("_k_overlaps") == 1, OVERLAPPING)
        .otherwise(NO_WINDOW)
    )
    return priced.select(
        *usage.columns,
        F.coalesce(F.col("currency_code"), F.lit(currency)).alias("currency_code"),
        "price_start_time",
        "price_end_time",
        "list_price",
        "effective_list_price",
        multiply_money(F.col("usage_quantity"), F.col("list_price")).alias("list_cost"),
        multiply_money(F.col("usage_quantity"), F.col("effective_list_price")).alias("effective_cost"),
        is_priced.alias("is_priced"),
        reason.alias("unpriced_reason"),
    )
