"""Transforms for a list-prices export: normalise to the bronze contract and find bad rows."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructType, TimestampType

from pipelines import source_names
from pipelines.columns import MAX_PRICE, first_failure, parse_decimal, parse_timestamp

SOURCE = source_names.LIST_PRICES
REASON = "_reason"
TEXT_COLUMNS = ("account_id", "sku_name", "cloud", "currency_code", "usage_unit")
PRICING_DEFAULT = "$.default"


def _timestamp(data: DataFrame, column: str) -> Column:
    if column not in data.columns:
        return F.lit(None).cast("timestamp")
    if isinstance(data.schema[column].dataType, TimestampType):
        return F.col(column)
    return parse_timestamp(F.col(column).cast("string"))


def _text(data: DataFrame, column: str) -> Column:
    if column not in data.columns:
        return F.lit(None).cast("string")
    return F.trim(F.col(column).cast("string"))


def _pricing_json(data: DataFrame) -> Column:
    """`pricing` as JSON text whether it was delivered as a struct or as a JSON string."""
    if "pricing" not in data.columns:
        return F.lit(None).cast("string")
    kind = data.schema["pricing"].dataType
    if isinstance(kind, StructType):
        return F.to_json(F.col("pricing"))
    if isinstance(kind, StringType):
        return F.col("pricing")
    return F.to_json(F.col("pricing"))


def normalise(raw: DataFrame) -> DataFrame:
    """The bronze columns (typed timestamps, pricing as JSON text) plus `_reason` for bad rows."""
    start, end = _timestamp(raw, "price_start_time"), _timestamp(raw, "price_end_time")
    pricing = _pricing_json(raw)
    default_price = parse_decimal(F.get_json_object(pricing, PRICING_DEFAULT))
    end_text = F.trim(F.col("price_end_time").cast("string")) if "price_end_time" in raw.columns else F.lit(None)
    checks: list[tuple[Column, str]] = [
        (_text(raw, "sku_name").isNull(), "missing sku_name"),
        (start.isNull(), "missing or unparseable price_start_time"),
        (end.isNull() & end_text.isNotNull() & (end_text != ""), "unparseable price_end_time"),
        (end.isNotNull() & (end <= start), "price_end_time is not after price_start_time"),
        (_text(raw, "usage_unit").isNull(), "missing usage_unit"),
        (_text(raw, "currency_code").isNull(), "missing currency_code"),
        (default_price.isNull(), "pricing has no decimal default price"),
        (F.abs(default_price) >= F.lit(MAX_PRICE), f"default price out of range (at least {MAX_PRICE:.0e})"),
    ]
    reason = first_failure(checks)
    return raw.select(
        start.alias("price_start_time"),
        end.alias("price_end_time"),
        *[_text(raw, c).alias(c) for c in TEXT_COLUMNS],
        pricing.alias("pricing"),
        F.col("_source_file"),
        F.to_json(F.struct(*[F.col(c).cast("string") for c in raw.columns if c != "_source_file"])).alias("_raw"),
        reason.alias(REASON),
    )
