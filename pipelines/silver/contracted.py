"""Bronze account prices and configured discount rules -> the silver inputs of contracted cost.

`contracted_prices` are price windows with the same rules as list prices: half-open [start, end), one exact
decimal `contracted_price` (`pricing.default`), duplicates removed, and windows that share time with another of
their (sku, cloud, unit, currency) flagged and never used. `discount_rules` are the configured rules, one row
each; they match usage by `usage_start_time`, so a rule's window touches the usage dates from its start date to
the date of its last instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines import source_names
from pipelines.config import DiscountRule
from pipelines.silver.prices import PRICE_KEY, flag_overlaps
from pipelines.tables import DISCOUNT_RULES

CONTRACTED_SOURCE = source_names.ACCOUNT_PRICES
CONTRACTED_PRICING = "struct<default:decimal(38,18)>"
CONTRACTED_VALUES = ("contracted_price", "overlaps_other_window")
RULE_WINDOW = ("rule_start_time", "rule_end_time")


def to_contracted_prices(account_prices: DataFrame) -> DataFrame:
    """One row per contracted price window, exact decimal price, duplicates removed, overlaps flagged."""
    pricing = F.from_json(F.col("pricing"), CONTRACTED_PRICING)
    windows = account_prices.select(
        *PRICE_KEY,
        "price_start_time",
        "price_end_time",
        pricing["default"].alias("contracted_price"),
        F.lit(CONTRACTED_SOURCE).alias("source"),
    ).dropDuplicates()
    return flag_overlaps(windows)


def discount_rules_frame(spark: SparkSession, rules: Sequence[DiscountRule]) -> DataFrame:
    """The configured rules as silver rows (NULL match columns match any value)."""
    rows = [
        (
            rule.name,
            rule.percent_off,
            rule.sku,
            rule.billing_origin_product,
            rule.cloud,
            None if rule.workspaces is None else list(rule.workspaces),
            rule.start,
            rule.end,
        )
        for rule in rules
    ]
    return spark.createDataFrame(rows, DISCOUNT_RULES.ddl)


def changed_rules(old: DataFrame, new: DataFrame) -> DataFrame:
    """The rule rows that differ between two versions: each removed or changed old row and each added or new one."""
    return old.exceptAll(new).unionByName(new.exceptAll(old))


def rule_ranges(windows: Iterable[tuple[datetime, datetime | None]]) -> list[list[str | None]]:
    """Usage-date ranges [first, last] (last None: open) that rule windows [start, end) touch.

    A rule matches by `usage_start_time` and `usage_date` is its date, so the last date touched is the
    date of the window's last instant (an end at midnight does not touch that day).
    """
    ranges: list[list[str | None]] = []
    for start, end in sorted(set(windows), key=lambda window: (window[0], window[1] or datetime.max)):
        last = None if end is None else (end - timedelta(microseconds=1)).date().isoformat()
        if [start.date().isoformat(), last] not in ranges:
            ranges.append([start.date().isoformat(), last])
    return ranges
