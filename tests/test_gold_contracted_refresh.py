"""Contracted prices in the incremental refresh: a changed discount rule or account price recomputes only its dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig, load_config
from pipelines.gold.contracted import CONTRACTED_COLUMNS
from pipelines.gold.cost import price_usage
from pipelines.gold.refresh import refresh_aggregates, refresh_cost
from pipelines.storage import Replace, TableStore
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import (
    CONTRACTED_PRICES,
    COST,
    COST_BY_WORKLOAD,
    COST_DAILY,
    DISCOUNT_RULES,
    PRICES,
    USAGE,
    TableSpec,
)
from tests.conftest import write_config

JOBS = "PREMIUM_JOBS_COMPUTE"
DAYS = (date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3))


def _usage(spark: SparkSession) -> DataFrame:
    """Two one-hour JOBS records a day, quantity 10."""
    rows = [(f"{day}-{hour}", datetime(day.year, day.month, day.day, hour)) for day in DAYS for hour in (9, 10)]
    data = spark.createDataFrame(rows, "record_id string, usage_start_time timestamp")
    return spark.createDataFrame([], USAGE.schema()).unionByName(
        data.selectExpr(
            "record_id",
            "usage_start_time",
            "usage_start_time + INTERVAL 1 HOUR as usage_end_time",
            "to_date(usage_start_time) as usage_date",
            f"'{JOBS}' as sku_name",
            "'AWS' as cloud",
            "'DBU' as usage_unit",
            "cast('10' as decimal(38,18)) as usage_quantity",
            "'system_tables' as source",
            "'1111111111111111' as workspace_id",
            "'JOBS' as billing_origin_product",
        ),
        allowMissingColumns=True,
    )


def _list_price(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [
            (
                JOBS,
                "AWS",
                "DBU",
                "USD",
                datetime(2023, 1, 1),
                None,
                Decimal("0.2"),
                Decimal("0.2"),
                None,
                "list_prices",
                False,
            )
        ],
        PRICES.schema(),
    )


def _write(store: TableStore, table: Any, data: DataFrame, changed: dict[str, Any]) -> None:
    store.write(table, data, Replace.all(), {"changed": changed})


def _config(tmp_path: Path) -> PipelineConfig:
    return load_config(write_config(tmp_path, None, None))


def _sources_by_day(store: TableStore) -> DataFrame:
    return store.read(COST).groupBy("usage_date", "contracted_price_source").agg(F.sum("contracted_cost").alias("cost"))


def _recomputed(store: TableStore) -> list[str]:
    last = store.last_commit(COST)
    assert last is not None
    return last.metadata["changed"]["usage_dates"]


def test_a_changed_discount_rule_or_account_price_recomputes_only_its_dates(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    store = DeltaRsStore(spark, config.warehouse)
    _write(store, USAGE, _usage(spark), {"usage_dates": [d.isoformat() for d in DAYS]})
    _write(store, PRICES, _list_price(spark), {"price_ranges": [["2023-01-01", None]]})
    assert refresh_cost(store, config) == 0  # no contracted price tables yet: every row at list

    rule = [("jobs-march-2", Decimal("25"), "*JOBS*", None, None, None, datetime(2024, 3, 2), datetime(2024, 3, 3))]
    _write(
        store,
        DISCOUNT_RULES,
        spark.createDataFrame(rule, DISCOUNT_RULES.schema()),
        {"price_ranges": [["2024-03-02", "2024-03-02"]]},
    )
    refresh_cost(store, config)
    assert _recomputed(store) == ["2024-03-02"]

    account = [(JOBS, "AWS", "DBU", "USD", datetime(2024, 3, 3), None, Decimal("0.1"), "account_prices", False)]
    _write(
        store,
        CONTRACTED_PRICES,
        spark.createDataFrame(account, CONTRACTED_PRICES.schema()),
        {"price_ranges": [["2024-03-03", None]]},
    )
    refresh_cost(store, config)
    assert _recomputed(store) == ["2024-03-03"]

    expected = spark.createDataFrame(
        [
            (DAYS[0], "list", Decimal("4")),  # 2 records x 10 DBU x 0.2
            (DAYS[1], "discount:jobs-march-2", Decimal("3")),
            (DAYS[2], "account_prices", Decimal("2")),
        ],
        "usage_date date, contracted_price_source string, cost decimal(38,18)",
    )
    assert_df_equality(_sources_by_day(store), expected, ignore_row_order=True, ignore_nullable=True)
    assert refresh_cost(store, config) is None  # nothing moved: nothing written


def test_aggregates_sum_contracted_cost_of_gold_cost(spark: SparkSession, tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = DeltaRsStore(spark, config.warehouse)
    _write(store, USAGE, _usage(spark), {"usage_dates": [d.isoformat() for d in DAYS]})
    _write(store, PRICES, _list_price(spark), {"price_ranges": [["2023-01-01", None]]})
    rule = [("half", Decimal("50"), "PREMIUM_?OBS_*", None, "AWS", ["1111111111111111"], datetime(2024, 3, 2), None)]
    _write(store, DISCOUNT_RULES, spark.createDataFrame(rule, DISCOUNT_RULES.schema()), {"everything": True})
    refresh_cost(store, config)
    refresh_aggregates(store, config)

    keys = ["usage_date", "contracted_price_source"]
    gold = store.read(COST).groupBy(*keys).agg(F.sum("contracted_cost").alias("contracted_cost"))
    daily = store.read(COST_DAILY).groupBy(*keys).agg(F.sum("contracted_cost").alias("contracted_cost"))
    assert_df_equality(daily, gold, ignore_row_order=True, ignore_nullable=True)
    by_workload = store.read(COST_BY_WORKLOAD).groupBy("usage_date").agg(F.sum("contracted_cost").alias("c"))
    expected = spark.createDataFrame(
        [(DAYS[0], Decimal("4")), (DAYS[1], Decimal("2")), (DAYS[2], Decimal("2"))], "usage_date date, c decimal(38,18)"
    )
    assert_df_equality(by_workload, expected, ignore_row_order=True, ignore_nullable=True)


def test_gold_cost_built_before_contracted_prices_is_rebuilt_once_with_the_new_columns(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    store = DeltaRsStore(spark, config.warehouse)
    _write(store, USAGE, _usage(spark), {"usage_dates": [d.isoformat() for d in DAYS]})
    _write(store, PRICES, _list_price(spark), {"price_ranges": [["2023-01-01", None]]})
    # gold.cost as the previous release wrote it: no contracted columns, the settings' fingerprint alone.
    old_columns = [c for c in COST.schema().names if c not in CONTRACTED_COLUMNS]
    old_ddl = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in COST.schema().fields if f.name in old_columns)
    old = TableSpec(COST.layer, COST.name, old_ddl, COST.partition_by)
    built = price_usage(store.read(USAGE), store.read(PRICES), config.currency)
    versions = {USAGE.key: store.version(USAGE), PRICES.key: store.version(PRICES)}
    store.write(old, built, Replace.all(), {"inputs": versions, "fingerprint": config.fingerprint("currency")})

    assert refresh_cost(store, config) == 1  # the fingerprint moved: every date rebuilt, in one commit

    sources = store.read(COST).groupBy("contracted_price_source").agg(F.sum("contracted_cost").alias("cost"))
    expected = spark.createDataFrame([("list", Decimal("12"))], "contracted_price_source string, cost decimal(38,18)")
    assert_df_equality(sources, expected, ignore_row_order=True, ignore_nullable=True)
    assert refresh_cost(store, config) is None
