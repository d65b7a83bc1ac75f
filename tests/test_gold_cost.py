"""Pricing usage on the effective-price window: boundaries, open windows, unpriced, no fan-out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from pipelines.gold import aggregates
from pipelines.gold.contracted import with_contracted_price
from pipelines.gold.cost import NO_PRICE_WINDOW, NO_WORKSPACE_CLOUD, price_usage
from pipelines.silver.prices import flag_overlaps
from pipelines.tables import CONTRACTED_PRICES, DISCOUNT_RULES, USAGE

T = datetime


def _usage(spark: SparkSession, rows: list[tuple[str, str | None, str, datetime]]) -> DataFrame:
    """Silver usage rows from (record_id, cloud, sku, usage_end_time) with quantity 2.5."""
    data = spark.createDataFrame(
        [(rid, cloud, sku, end) for rid, cloud, sku, end in rows],
        "record_id string, cloud string, sku_name string, usage_end_time timestamp",
    )
    full = spark.createDataFrame([], USAGE.schema())
    return full.unionByName(
        data.selectExpr(
            "*",
            "to_date(usage_end_time - INTERVAL 1 HOUR) as usage_date",
            "usage_end_time - INTERVAL 1 HOUR as usage_start_time",
            "'DBU' as usage_unit",
            "cast('2.5' as decimal(38,18)) as usage_quantity",
            "'legacy_csv' as source",
            "'1' as workspace_id",
        ),
        allowMissingColumns=True,
    )


def _prices(spark: SparkSession, rows: list[tuple[str, datetime, datetime | None, str]]) -> DataFrame:
    data = spark.createDataFrame(
        rows, "sku_name string, price_start_time timestamp, price_end_time timestamp, price string"
    ).selectExpr(
        "sku_name",
        "'AWS' as cloud",
        "'DBU' as usage_unit",
        "'USD' as currency_code",
        "price_start_time",
        "price_end_time",
        "cast(price as decimal(38,18)) as list_price",
        "cast(price as decimal(38,18)) as effective_list_price",
        "cast(null as decimal(38,18)) as promotional_price",
        "'list_prices' as source",
    )
    return flag_overlaps(data)


JOBS = "PREMIUM_JOBS_COMPUTE"
CHANGE = T(2024, 2, 15)


def test_price_window_boundaries_and_open_end(spark: SparkSession) -> None:
    prices = _prices(spark, [(JOBS, T(2023, 1, 1), CHANGE, "0.15"), (JOBS, CHANGE, None, "0.20")])
    usage = _usage(
        spark,
        [
            ("before", "AWS", JOBS, T(2024, 2, 14, 23)),
            ("at-start-of-new", "AWS", JOBS, CHANGE),  # ends exactly at the old price's end: the new price
            ("open-ended", "AWS", JOBS, T(2030, 1, 1)),
            ("at-first-start", "AWS", JOBS, T(2023, 1, 1)),  # ends exactly at a price's start: that price
            ("too-early", "AWS", JOBS, T(2022, 12, 31, 23)),
        ],
    )
    cost = price_usage(usage, prices, "USD")

    actual = cost.select("record_id", "list_price", "list_cost", "is_priced", "unpriced_reason")
    expected = spark.createDataFrame(
        [
            ("before", Decimal("0.15"), Decimal("0.375"), True, None),
            ("at-start-of-new", Decimal("0.20"), Decimal("0.5"), True, None),
            ("open-ended", Decimal("0.20"), Decimal("0.5"), True, None),
            ("at-first-start", Decimal("0.15"), Decimal("0.375"), True, None),
            ("too-early", None, None, False, NO_PRICE_WINDOW),
        ],
        "record_id string, list_price decimal(38,18), list_cost decimal(38,18), is_priced boolean,"
        " unpriced_reason string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=False)


def test_unpriced_usage_has_null_cost_a_reason_and_is_listed(spark: SparkSession) -> None:
    prices = _prices(
        spark,
        [
            (JOBS, T(2023, 1, 1), None, "0.15"),
            ("OVERLAP", T(2023, 1, 1), None, "1"),
            ("OVERLAP", T(2024, 1, 1), None, "2"),
        ],
    )
    usage = _usage(
        spark,
        [
            ("priced", "AWS", JOBS, T(2024, 1, 2)),
            ("no-sku-price", "AWS", "AWS_ENHANCED_SECURITY_AND_COMPLIANCE", T(2024, 1, 2)),
            ("no-cloud", None, JOBS, T(2024, 1, 2)),
            ("overlap", "AWS", "OVERLAP", T(2024, 6, 1)),
        ],
    )
    no_contract = (
        spark.createDataFrame([], CONTRACTED_PRICES.schema()),
        spark.createDataFrame([], DISCOUNT_RULES.schema()),
    )
    cost = with_contracted_price(price_usage(usage, prices, "USD"), *no_contract)
    unpriced = aggregates.unpriced_usage(aggregates.attribution(cost)).select("record_id", "unpriced_reason")

    expected = spark.createDataFrame(
        [("no-sku-price", NO_PRICE_WINDOW), ("no-cloud", NO_WORKSPACE_CLOUD), ("overlap", NO_PRICE_WINDOW)],
        "record_id string, unpriced_reason string",
    )
    assert_df_equality(unpriced, expected, ignore_row_order=True, ignore_nullable=True)
    without_cost = cost.where("effective_cost is null").select("record_id")
    assert_df_equality(without_cost, expected.select("record_id"), ignore_row_order=True, ignore_nullable=True)


def test_each_usage_row_appears_once_even_with_many_price_windows(spark: SparkSession) -> None:
    windows = [(JOBS, T(2024, 1, day), T(2024, 1, day + 1), f"0.{day:02d}") for day in range(1, 28)]
    prices = _prices(spark, [*windows, (JOBS, T(2024, 1, 28), None, "0.99")])
    usage = _usage(spark, [(f"r{h}", "AWS", JOBS, T(2024, 1, 1 + h // 24, h % 24)) for h in range(1, 24 * 30)])

    cost = price_usage(usage, prices, "USD")

    assert cost.count() == usage.count()
    assert cost.select("record_id").distinct().count() == usage.count()
    assert cost.where("not is_priced").count() == 0


def test_overlapping_windows_are_flagged_never_both_used(spark: SparkSession) -> None:
    prices = _prices(
        spark,
        [
            (JOBS, T(2024, 1, 1), T(2024, 3, 1), "0.1"),
            (JOBS, T(2024, 2, 1), T(2024, 4, 1), "0.2"),
            (JOBS, T(2024, 4, 1), None, "0.3"),
            ("OTHER", T(2024, 1, 1), T(2024, 2, 1), "0.1"),
            ("OTHER", T(2024, 2, 1), None, "0.2"),
        ],
    )
    flags = prices.select("sku_name", "list_price", "overlaps_other_window")
    expected = spark.createDataFrame(
        [
            (JOBS, Decimal("0.1"), True),
            (JOBS, Decimal("0.2"), True),
            (JOBS, Decimal("0.3"), False),
            ("OTHER", Decimal("0.1"), False),
            ("OTHER", Decimal("0.2"), False),
        ],
        "sku_name string, list_price decimal(38,18), overlaps_other_window boolean",
    )
    assert_df_equality(flags, expected, ignore_row_order=True, ignore_nullable=True)


def test_costs_are_exact_decimals(spark: SparkSession) -> None:
    prices = _prices(spark, [(JOBS, T(2023, 1, 1), None, "0.123456789")])
    usage = _usage(spark, [("r", "AWS", JOBS, T(2024, 1, 2))])
    row = price_usage(usage, prices, "USD").collect()[0]
    assert row.list_cost == Decimal("2.5") * Decimal("0.123456789")


def test_changed_periods_cover_only_the_time_whose_price_changed() -> None:
    from pipelines.silver.prices import PriceWindow, changed_periods

    old: list[PriceWindow] = [(T(2023, 1, 1), T(2024, 2, 15), ("0.15",)), (T(2024, 2, 15), None, ("0.20",))]
    new: list[PriceWindow] = [(T(2023, 1, 1), T(2024, 2, 20), ("0.15",)), (T(2024, 2, 20), None, ("0.20",))]
    assert changed_periods(old, new) == [(T(2024, 2, 15), T(2024, 2, 20))]
    assert changed_periods([], [(T(2024, 3, 1), None, ("1",))]) == [(T(2024, 3, 1), None)]
    assert changed_periods(old, old) == []
