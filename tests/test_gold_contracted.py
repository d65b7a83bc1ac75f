"""Contracted price per usage row: account price, else a discount rule on list, else list; exact; never fanned out."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.gold.contracted import glob_matches, with_contracted_price
from pipelines.gold.cost import price_usage
from pipelines.silver.prices import flag_overlaps
from pipelines.tables import CONTRACTED_PRICES, COST, DISCOUNT_RULES, USAGE

T = datetime
JOBS = "PREMIUM_JOBS_COMPUTE"
ALL_PURPOSE = "PREMIUM_ALL_PURPOSE_COMPUTE"
SQL = "PREMIUM_SQL_PRO_COMPUTE"
UNLISTED = "PREMIUM_UNLISTED_SKU"
RESULT = "record_id string, contracted_unit_price decimal(38,18), contracted_cost decimal(38,18), source string"


def _usage(spark: SparkSession, rows: list[tuple[str, str, datetime, str]]) -> DataFrame:
    """Silver usage rows from (record_id, sku, usage_start_time, workspace_id): one hour, quantity 2."""
    data = spark.createDataFrame(rows, "record_id string, sku_name string, usage_start_time timestamp, ws string")
    return spark.createDataFrame([], USAGE.schema()).unionByName(
        data.selectExpr(
            "record_id",
            "sku_name",
            "usage_start_time",
            "usage_start_time + INTERVAL 1 HOUR as usage_end_time",
            "to_date(usage_start_time) as usage_date",
            "'AWS' as cloud",
            "'DBU' as usage_unit",
            "cast('2' as decimal(38,18)) as usage_quantity",
            "'system_tables' as source",
            "ws as workspace_id",
            "'JOBS' as billing_origin_product",
        ),
        allowMissingColumns=True,
    )


def _list_prices(spark: SparkSession, rows: list[tuple[str, str]]) -> DataFrame:
    """Open list-price windows from 2023 for (sku, price)."""
    data = spark.createDataFrame(rows, "sku_name string, price string").selectExpr(
        "sku_name",
        "'AWS' as cloud",
        "'DBU' as usage_unit",
        "'USD' as currency_code",
        "timestamp'2023-01-01 00:00:00' as price_start_time",
        "cast(null as timestamp) as price_end_time",
        "cast(price as decimal(38,18)) as list_price",
        "cast(price as decimal(38,18)) as effective_list_price",
        "cast(null as decimal(38,18)) as promotional_price",
        "'list_prices' as source",
    )
    return flag_overlaps(data)


def _account_prices(spark: SparkSession, rows: list[tuple[str, datetime, datetime | None, str, bool]]) -> DataFrame:
    """silver.contracted_prices rows from (sku, start, end, price, overlaps_other_window)."""
    data = spark.createDataFrame(
        rows, "sku_name string, price_start_time timestamp, price_end_time timestamp, price string, overlaps boolean"
    )
    return data.selectExpr(
        "sku_name",
        "'AWS' as cloud",
        "'DBU' as usage_unit",
        "'USD' as currency_code",
        "price_start_time",
        "price_end_time",
        "cast(price as decimal(38,18)) as contracted_price",
        "'account_prices' as source",
        "overlaps as overlaps_other_window",
    ).select(*CONTRACTED_PRICES.schema().names)


def _rules(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """silver.discount_rules rows: (name, percent, sku_pattern, product, cloud, workspace_ids, start, end)."""
    return spark.createDataFrame(rows, DISCOUNT_RULES.schema())


RULES_FROM = T(2024, 1, 1)


def _rule(
    name: str,
    percent: str,
    pattern: str | None,
    start: datetime = RULES_FROM,
    end: datetime | None = None,
    **match: object,
) -> tuple:
    return (
        name,
        Decimal(percent),
        pattern,
        match.get("product"),
        match.get("cloud"),
        match.get("workspaces"),
        start,
        end,
    )


def _contracted(usage: DataFrame, prices: DataFrame, account: DataFrame, rules: DataFrame) -> DataFrame:
    return with_contracted_price(price_usage(usage, prices, "USD"), account, rules)


def _result(cost: DataFrame) -> DataFrame:
    return cost.select(
        "record_id", "contracted_unit_price", "contracted_cost", F.col("contracted_price_source").alias("source")
    )


def _no_account_prices(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], CONTRACTED_PRICES.schema())


def test_contracted_price_account_price_then_discount_then_list(spark: SparkSession) -> None:
    prices = _list_prices(spark, [(JOBS, "0.15"), (ALL_PURPOSE, "0.55"), (SQL, "0.70")])
    account = _account_prices(spark, [(JOBS, T(2024, 1, 1), None, "0.12", False)])
    # The second rule matches JOBS too: the account price wins there. The third's product is not the rows'.
    rules = _rules(
        spark,
        [
            _rule("all-purpose", "20", "*PURPOSE*"),
            _rule("jobs-too", "50", "*JOBS*"),
            _rule("sql-other-product", "50", "*SQL*", product="SQL"),
        ],
    )
    usage = _usage(
        spark,
        [
            ("account", JOBS, T(2024, 3, 1, 10), "1"),
            ("discount", ALL_PURPOSE, T(2024, 3, 1, 10), "1"),
            ("list", SQL, T(2024, 3, 1, 10), "1"),
            ("unpriced", UNLISTED, T(2024, 3, 1, 10), "1"),
        ],
    )

    actual = _result(_contracted(usage, prices, account, rules))

    expected = spark.createDataFrame(
        [
            ("account", Decimal("0.12"), Decimal("0.24"), "account_prices"),
            ("discount", Decimal("0.44"), Decimal("0.88"), "discount:all-purpose"),
            ("list", Decimal("0.70"), Decimal("1.40"), "list"),
            ("unpriced", None, None, None),
        ],
        RESULT,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_contracted_columns_follow_effective_cost_in_the_cost_contract(spark: SparkSession) -> None:
    prices = _list_prices(spark, [(JOBS, "0.15")])
    usage = _usage(spark, [("a", JOBS, T(2024, 3, 1), "1")])
    cost = _contracted(usage, prices, _no_account_prices(spark), _rules(spark, []))

    assert cost.columns == COST.schema().names
    assert [f.dataType.simpleString() for f in cost.schema.fields] == [
        f.dataType.simpleString() for f in COST.schema().fields
    ]


def test_contracted_price_ignores_overlapping_and_out_of_window_account_prices(spark: SparkSession) -> None:
    prices = _list_prices(spark, [(JOBS, "0.15")])
    account = _account_prices(
        spark,
        [
            (JOBS, T(2024, 1, 1), T(2024, 2, 1), "0.10", False),  # ends exactly when the next usage hour ends
            (JOBS, T(2024, 2, 1), T(2024, 3, 1), "0.11", True),  # overlaps another window: never used
            (JOBS, T(2024, 2, 15), T(2024, 3, 1), "0.09", True),
        ],
    )
    usage = _usage(
        spark,
        [
            ("ends-at-window-end", JOBS, T(2024, 1, 31, 23), "1"),
            ("last-in-window", JOBS, T(2024, 1, 31, 22), "1"),
            ("overlapping-windows", JOBS, T(2024, 2, 20), "1"),
        ],
    )

    actual = _result(_contracted(usage, prices, account, _rules(spark, [])))

    expected = spark.createDataFrame(
        [
            ("ends-at-window-end", Decimal("0.15"), Decimal("0.30"), "list"),
            ("last-in-window", Decimal("0.10"), Decimal("0.20"), "account_prices"),
            ("overlapping-windows", Decimal("0.15"), Decimal("0.30"), "list"),
        ],
        RESULT,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_discount_rule_matches_window_on_start_time_and_every_set_column(spark: SparkSession) -> None:
    prices = _list_prices(spark, [(JOBS, "0.20")])
    rules = _rules(
        spark,
        [_rule("march-ws-2", "10", None, start=T(2024, 3, 1), end=T(2024, 4, 1), cloud="AWS", workspaces=["2"])],
    )
    usage = _usage(
        spark,
        [
            ("at-start", JOBS, T(2024, 3, 1), "2"),
            ("last-hour", JOBS, T(2024, 3, 31, 23), "2"),  # ends at the rule's end, starts inside
            ("at-end", JOBS, T(2024, 4, 1), "2"),
            ("other-workspace", JOBS, T(2024, 3, 5), "1"),
        ],
    )

    actual = _result(_contracted(usage, prices, _no_account_prices(spark), rules))

    expected = spark.createDataFrame(
        [
            ("at-start", Decimal("0.18"), Decimal("0.36"), "discount:march-ws-2"),
            ("last-hour", Decimal("0.18"), Decimal("0.36"), "discount:march-ws-2"),
            ("at-end", Decimal("0.20"), Decimal("0.40"), "list"),
            ("other-workspace", Decimal("0.20"), Decimal("0.40"), "list"),
        ],
        RESULT,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_conflicting_discount_rules_leave_the_row_once_at_list_naming_both(spark: SparkSession) -> None:
    prices = _list_prices(spark, [(JOBS, "0.20")])
    rules = _rules(spark, [_rule("b-jobs", "10", "*JOBS*"), _rule("a-premium", "30", "PREMIUM_*")])
    usage = _usage(spark, [("both", JOBS, T(2024, 3, 1), "1"), ("other", "PREMIUM_SQL_COMPUTE", T(2024, 3, 1), "1")])
    prices = prices.unionByName(_list_prices(spark, [("PREMIUM_SQL_COMPUTE", "1")]))

    actual = _result(_contracted(usage, prices, _no_account_prices(spark), rules))

    expected = spark.createDataFrame(
        [
            ("both", Decimal("0.20"), Decimal("0.40"), "list: conflicting discount rules a-premium, b-jobs"),
            ("other", Decimal("0.70"), Decimal("1.40"), "discount:a-premium"),
        ],
        RESULT,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_discounted_price_is_exact_where_a_product_needs_many_digits(spark: SparkSession) -> None:
    price = "12345678.123456789012345678"  # 26 significant digits
    percent = "33.333333"
    prices = _list_prices(spark, [(JOBS, price)])
    rules = _rules(spark, [_rule("third", percent, JOBS)])
    usage = _usage(spark, [("a", JOBS, T(2024, 3, 1), "1")])

    actual = _result(_contracted(usage, prices, _no_account_prices(spark), rules))

    # 12345678.123456789012345678 * 0.66666667 = 8230452.12345678641975308204115226: 26 decimals, rounded once
    # to the column's 18 (a double keeps ~16 significant digits: 8230452.123456786); cost keeps 13 (multiply_money).
    unit = (Decimal(price) * (100 - Decimal(percent)) / 100).quantize(Decimal("1e-18"), ROUND_HALF_UP)
    assert unit == Decimal("8230452.123456786419753082")
    cost = (unit * 2).quantize(Decimal("1e-13"), ROUND_HALF_UP)
    expected = spark.createDataFrame([("a", unit, cost, "discount:third")], RESULT)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_glob_matches_wildcards_and_takes_everything_else_literally(spark: SparkSession) -> None:
    cases = [
        ("*JOBS*", "PREMIUM_JOBS_COMPUTE", True),
        ("PREMIUM_?OBS_COMPUTE", "PREMIUM_JOBS_COMPUTE", True),
        ("PREMIUM_?OBS", "PREMIUM_JOBS_COMPUTE", False),  # anchored at both ends
        ("JOBS", "PREMIUM_JOBS_COMPUTE", False),
        ("A.B", "AXB", False),  # regex metacharacters are literal
        ("A.B", "A.B", True),
        ("A%B", "AxxB", False),  # so are LIKE's
        ("A_B", "AxB", False),
        ("A_B", "A_B", True),
        ("(x|y)+[z]{1}$^", "(x|y)+[z]{1}$^", True),
        ("(x|y)+", "x", False),
        ("a\\*b", "a\\zzb", True),  # a backslash is literal and the star still a wildcard
        ("a\\*b", "a*b", False),
        ("a\\?", "a\\x", True),
        ("a\\Q*", "a\\Qanything", True),
        ("\\E*", "\\Ex", True),
        ("*", "", True),
        ("?", "", False),
        ("a?c", "a\nc", True),
        ("*", None, None),
    ]
    data = spark.createDataFrame([(p, v) for p, v, _ in cases], "pattern string, value string")

    actual = data.select("pattern", "value", glob_matches(F.col("value"), F.col("pattern")).alias("matches"))

    expected = spark.createDataFrame(cases, "pattern string, value string, matches boolean")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_contracted_price_never_fans_out_usage_rows(spark: SparkSession) -> None:
    prices = _list_prices(spark, [(JOBS, "0.20")])
    account = _account_prices(
        spark, [(JOBS, T(2024, 1, 1), None, "0.1", True), (JOBS, T(2024, 1, 1), None, "0.2", True)]
    )
    rules = _rules(spark, [_rule(f"r{i}", "1", "*") for i in range(3)])
    usage = _usage(spark, [(f"u{i}", JOBS, T(2024, 3, 1, i), "1") for i in range(5)])

    cost = _contracted(usage, prices, account, rules)

    assert cost.count() == 5
    assert cost.select("record_id").distinct().count() == 5
