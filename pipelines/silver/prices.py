"""Bronze list prices (and, later, rate cards) -> validated price windows."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

PRICING_SCHEMA = (
    "struct<default:decimal(38,18), promotional:struct<default:decimal(38,18)>,"
    " effective_list:struct<default:decimal(38,18)>>"
)
PRICE_KEY = ("sku_name", "cloud", "usage_unit", "currency_code")
_OPEN_END = "9999-12-31 00:00:00"  # stands for a window with no end


def to_prices(list_prices: DataFrame) -> DataFrame:
    """One row per price window with exact decimal prices, duplicates removed, overlaps flagged.

    `list_price` is `pricing.default`; `effective_list_price` is `pricing.effective_list.default`
    (the price billing uses), falling back to `default` when an export has no effective price.
    """
    pricing = F.from_json(F.col("pricing"), PRICING_SCHEMA)
    windows = list_prices.select(
        *PRICE_KEY,
        "price_start_time",
        "price_end_time",
        pricing["default"].alias("list_price"),
        F.coalesce(pricing["effective_list"]["default"], pricing["default"]).alias("effective_list_price"),
        pricing["promotional"]["default"].alias("promotional_price"),
        F.lit("list_prices").alias("source"),
    ).dropDuplicates()
    return flag_overlaps(windows)


def flag_overlaps(prices: DataFrame) -> DataFrame:
    """Add `overlaps_other_window`: true for every window that shares time with another of its key.

    Such windows would price the same usage twice, so cost never uses them: the usage they cover
    is reported as unpriced instead of being silently double counted or arbitrarily picked.
    """
    by_start = Window.partitionBy(*PRICE_KEY).orderBy("price_start_time", "price_end_time")
    before = by_start.rowsBetween(Window.unboundedPreceding, -1)
    end = F.coalesce(F.col("price_end_time"), F.lit(_OPEN_END).cast("timestamp"))
    latest_end_before = F.max(end).over(before)
    next_start = F.lead("price_start_time").over(by_start)
    overlaps = (latest_end_before.isNotNull() & (latest_end_before > F.col("price_start_time"))) | (
        next_start.isNotNull() & (end > next_start)
    )
    return prices.withColumn("overlaps_other_window", F.coalesce(overlaps, F.lit(False)))


PriceWindow = tuple[datetime, datetime | None, tuple[object, ...]]


def changed_periods(old: list[PriceWindow], new: list[PriceWindow]) -> list[tuple[datetime, datetime | None]]:
    """Periods in which the price a usage record would get differs between two sets of windows of one key.

    `old` and `new` are (start, end or None, price values) of the windows that differ between the two
    versions; windows present in both price the same time the same way and can be left out.
    """

    def price_at(windows: list[PriceWindow], instant: datetime) -> list[tuple[object, ...]]:
        return sorted(p for s, e, p in windows if s <= instant and (e is None or instant < e))

    bounds = sorted({s for s, _, _ in old + new} | {e for _, e, _ in old + new if e is not None})
    periods: list[tuple[datetime, datetime | None]] = []
    for index, start in enumerate(bounds):
        end = bounds[index + 1] if index + 1 < len(bounds) else None
        if price_at(old, start) != price_at(new, start):
            if periods and periods[-1][1] == start:
                periods[-1] = (periods[-1][0], end)
            else:
                periods.append((start, end))
    return periods
