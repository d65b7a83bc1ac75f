"""Priced usage -> the price this account actually pays: its own price, else a discount on list, else list.

Precedence per usage row (each row exactly once, never fanned out):
1. an account price (`silver.contracted_prices`) whose window holds `usage_end_time`, matched as list
   prices are (same sku, cloud, unit and currency; windows that overlap another are never used);
2. else the one configured discount rule (`silver.discount_rules`) matching the row: `list_price` times
   `(100 - percent_off) / 100`, exactly;
3. else list price.
Rows without a list price stay unpriced: all three contracted columns NULL, never a guessed price.
Two discount rules matching one row (the config forbids it; a hand-edited table might not) price the row
at list with a source naming both rules: nothing proves either discount, and list never understates cost.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.columns import QUANTITY, multiply_money

ACCOUNT_PRICES_SOURCE = "account_prices"
LIST_SOURCE = "list"
DISCOUNT_PREFIX = "discount:"
CONFLICT_PREFIX = "list: conflicting discount rules "
CONTRACTED_COLUMNS = ("contracted_unit_price", "contracted_cost", "contracted_price_source")

# list_price * (100 - percent_off) / 100 stays exact when the operands are narrowed first (see multiply_money):
# a price of 10 integer digits and 18 decimals times a factor of 1 integer digit and 8 decimals (a percentage
# with up to 6 decimals, / 100) is a decimal(38,26) product with no rounding; only the final cast to 18 decimals
# rounds (half up), once. The config accepts 0 < percent_off <= 100 with at most 6 decimals, so the narrowing loses
# nothing (pipelines/config/discounts.py).
_PRICE_FOR_FACTOR = "decimal(28,18)"
_PERCENT = "decimal(9,6)"
_FACTOR = "decimal(9,8)"


def glob_regex(pattern: Column) -> Column:
    """A glob (`*` any run, `?` one character, everything else literal) as an anchored Java regex.

    Every regex metacharacter (and backslash) is escaped first; then the escaped `\\*` and `\\?` become `.*`
    and `.`. An escaped star can only start where an escape starts (a literal backslash is `\\\\`, never
    followed by a bare `*`), so no literal character is ever turned into a wildcard.
    """
    escaped = F.regexp_replace(pattern, r"([\\^$.|?*+()\[\]{}])", r"\\$1")
    wild = F.regexp_replace(F.regexp_replace(escaped, r"\\\*", ".*"), r"\\\?", ".")
    return F.concat(F.lit("(?s)^"), wild, F.lit(r"\z"))


def glob_matches(value: Column, pattern: Column) -> Column:
    """Whether `value` matches the glob `pattern` as a whole (NULL when either is NULL)."""
    return F.regexp(value, glob_regex(pattern))


def discounted_price(list_price: Column, percent_off: Column) -> Column:
    """`list_price * (100 - percent_off) / 100` as decimal(38,18), exact up to the final rounding to 18 decimals."""
    factor = ((F.lit(100).cast(_PERCENT) - percent_off.cast(_PERCENT)) / F.lit(100)).cast(_FACTOR)
    return (list_price.cast(_PRICE_FOR_FACTOR) * factor).cast(QUANTITY)


def _rule_matches(rule: Column) -> Column:
    """Whether a discount rule (a struct of `silver.discount_rules`) holds the current usage row."""
    end = rule["rule_end_time"]
    return (
        (rule["sku_pattern"].isNull() | glob_matches(F.col("sku_name"), rule["sku_pattern"]))
        & (
            rule["billing_origin_product"].isNull()
            | (rule["billing_origin_product"] == F.col("billing_origin_product"))
        )
        & (rule["cloud"].isNull() | (rule["cloud"] == F.col("cloud")))
        & (rule["workspace_ids"].isNull() | F.array_contains(rule["workspace_ids"], F.col("workspace_id")))
        & (F.col("usage_start_time") >= rule["rule_start_time"])
        & (end.isNull() | (F.col("usage_start_time") < end))
    ).eqNullSafe(F.lit(True))


def with_contracted_price(priced: DataFrame, account_prices: DataFrame, discount_rules: DataFrame) -> DataFrame:
    """`price_usage`'s output with `contracted_unit_price`, `contracted_cost` and `contracted_price_source`.

    The columns come right after `effective_cost`. Account prices join like list prices (their usable
    windows never overlap, so at most one matches); the discount rules, a handful of config rows, travel
    as one array to every row and are matched there, so a row is never duplicated whatever the rules hold.
    """
    windows = account_prices.where(~F.col("overlaps_other_window")).select(
        F.col("sku_name").alias("_a_sku"),
        F.col("cloud").alias("_a_cloud"),
        F.col("usage_unit").alias("_a_unit"),
        F.col("currency_code").alias("_a_currency"),
        F.col("price_start_time").alias("_a_start"),
        F.col("price_end_time").alias("_a_end"),
        F.col("contracted_price").alias("_a_price"),
    )
    in_window = (F.col("usage_end_time") >= F.col("_a_start")) & (
        F.col("_a_end").isNull() | (F.col("usage_end_time") < F.col("_a_end"))
    )
    matches = (
        (F.col("sku_name") == F.col("_a_sku"))
        & (F.col("cloud") == F.col("_a_cloud"))
        & (F.col("usage_unit") == F.col("_a_unit"))
        & (F.col("currency_code") == F.col("_a_currency"))
        & in_window
    )
    rules = discount_rules.agg(
        F.collect_list(
            F.struct(
                "rule_name",
                "percent_off",
                "sku_pattern",
                "billing_origin_product",
                "cloud",
                "workspace_ids",
                "rule_start_time",
                "rule_end_time",
            )
        ).alias("_rules")
    )
    joined = priced.join(F.broadcast(windows), matches, "left").crossJoin(F.broadcast(rules))
    # The matching rules once per row (a column, so the filter is not evaluated again for each use below).
    joined = joined.withColumn("_matched", F.filter(F.col("_rules"), _rule_matches))
    matched = F.col("_matched")
    names = F.array_sort(F.transform(matched, lambda rule: rule["rule_name"]))
    only = F.element_at(matched, 1)
    unpriced = ~F.col("is_priced")
    account, one_rule, conflict = F.col("_a_price").isNotNull(), F.size(matched) == 1, F.size(matched) > 1
    unit_price = (
        F.when(unpriced, F.lit(None).cast(QUANTITY))
        .when(account, F.col("_a_price"))
        .when(one_rule, discounted_price(F.col("list_price"), only["percent_off"]))
        .otherwise(F.col("list_price"))
    )
    source = (
        F.when(unpriced, F.lit(None).cast("string"))
        .when(account, F.lit(ACCOUNT_PRICES_SOURCE))
        .when(one_rule, F.concat(F.lit(DISCOUNT_PREFIX), only["rule_name"]))
        .when(conflict, F.concat(F.lit(CONFLICT_PREFIX), F.array_join(names, ", ")))
        .otherwise(F.lit(LIST_SOURCE))
    )
    with_price = joined.withColumns({"contracted_unit_price": unit_price, "contracted_price_source": source})
    with_cost = with_price.withColumn(
        "contracted_cost", multiply_money(F.col("usage_quantity"), F.col("contracted_unit_price"))
    )
    columns = list(priced.columns)
    at = columns.index("effective_cost") + 1
    return with_cost.select(*columns[:at], *CONTRACTED_COLUMNS, *columns[at:])
