"""Bronze list prices (and, later, rate cards) -> validated price windows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines.config import RateCard

PRICING_SCHEMA = (
    "struct<default:decimal(38,18), promotional:struct<default:decimal(38,18)>,"
    " effective_list:struct<default:decimal(38,18)>>"
)
PRICE_KEY = ("sku_name", "cloud", "usage_unit", "currency_code")
LIST_PRICES_SOURCE = "list_prices"
RATE_CARD_SOURCE = "rate_card"
WINDOW_COLUMNS = (
    "sku_name string, cloud string, usage_unit string, currency_code string, price_start_time timestamp,"
    " price_end_time timestamp, list_price decimal(38,18), effective_list_price decimal(38,18),"
    " promotional_price decimal(38,18), source string"
)
_OPEN_END = "9999-12-31 00:00:00"  # stands for a window with no end


def to_prices(list_prices: DataFrame, rate_cards: DataFrame | None = None) -> DataFrame:
    """One row per price window with exact decimal prices, duplicates removed, overlaps flagged.

    `list_price` is `pricing.default`; `effective_list_price` is `pricing.effective_list.default`
    (the price billing uses), falling back to `default` when an export has no effective price.
    Rate-card windows (`rate_card_windows`) are added as they are; a rate card that overlaps a list
    price of the same key is flagged like any other overlap.
    """
    pricing = F.from_json(F.col("pricing"), PRICING_SCHEMA)
    windows = list_prices.select(
        *PRICE_KEY,
        "price_start_time",
        "price_end_time",
        pricing["default"].alias("list_price"),
        F.coalesce(pricing["effective_list"]["default"], pricing["default"]).alias("effective_list_price"),
        pricing["promotional"]["default"].alias("promotional_price"),
        F.lit(LIST_PRICES_SOURCE).alias("source"),
    ).dropDuplicates()
    if rate_cards is not None:
        windows = windows.unionByName(rate_cards)
    return flag_overlaps(windows)


def rate_card_windows(spark: SparkSession, cards: Sequence[RateCard]) -> DataFrame:
    """Configured rate cards as price windows (the same columns `to_prices` gives before flagging)."""
    rows = [
        (
            card.sku_name,
            card.cloud,
            card.usage_unit,
            card.currency_code,
            window.start,
            window.end,
            window.list_price,
            window.effective_price,
            None,
            RATE_CARD_SOURCE,
        )
        for card in cards
        for window in card.windows
    ]
    return spark.createDataFrame(rows, WINDOW_COLUMNS)


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
