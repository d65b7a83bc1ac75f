"""Account (contracted) prices land in bronze like list prices: from an export or a table by name, a full snapshot,
bad rows quarantined under their own source, rows read = landed + quarantined."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from pipelines.bronze.ingest_log import Run
from pipelines.bronze.land_prices import land_account_prices
from pipelines.config import ListPricesSource, load_config
from pipelines.runner import run_pipeline
from pipelines.storage import TableStore, open_store
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import ACCOUNT_PRICES, CONTRACTED_PRICES, DISCOUNT_RULES, INGEST_LOG, LIST_PRICES, QUARANTINE
from tests.conftest import write_config, write_prices

JOBS = "PREMIUM_JOBS_COMPUTE"
# (start, end, sku, pricing.default as text): the last row has no parseable start.
ROWS = [
    ("2024-01-01T00:00:00.000Z", "2024-07-01T00:00:00.000Z", JOBS, "0.120000000000000001"),
    ("2024-07-01T00:00:00.000Z", None, JOBS, "0.11"),
    ("not a time", None, "BROKEN", "1"),
]
# system.billing.account_prices as Databricks types it; `pricing` may carry more than `default`.
TABLE_DDL = (
    "price_start_time timestamp, price_end_time timestamp, account_id string, sku_name string, cloud string,"
    " currency_code string, usage_unit string, pricing struct<default:decimal(30,18), list_discount:string>"
)


def _export(spark: SparkSession, folder: Path, file_format: str, rows: list[tuple] = ROWS) -> None:
    data = spark.createDataFrame(
        [(start, end, "acc", sku, "AWS", "USD", "DBU", price) for start, end, sku, price in rows],
        "start string, end string, account_id string, sku_name string, cloud string, currency_code string,"
        " usage_unit string, price string",
    )
    if file_format == "parquet":  # the system table's shape: timestamps and a pricing struct
        start, end, pricing = "try_to_timestamp(start)", "try_to_timestamp(end)", "named_struct('default', price)"
    else:  # an export as text: pricing as a JSON string
        start, end, pricing = "start", "end", "to_json(named_struct('default', price))"
    data = data.selectExpr(
        f"{start} as price_start_time",
        f"{end} as price_end_time",
        "account_id",
        "sku_name",
        "cloud",
        "currency_code",
        "usage_unit",
        f"{pricing} as pricing",
    )
    writer = data.coalesce(1).write.mode("overwrite")
    if file_format == "csv":
        writer.option("header", "true").option("escape", '"').csv(str(folder))
    else:
        writer.parquet(str(folder))


def _log(store: TableStore) -> DataFrame:
    return (
        store.read(INGEST_LOG)
        .where("source = 'account_prices'")
        .selectExpr("status", "rows_read", "rows_landed", "rows_quarantined", "table_version")
    )


def _expected_log(spark: SparkSession, *rows: tuple) -> DataFrame:
    ddl = "status string, rows_read bigint, rows_landed bigint, rows_quarantined bigint, table_version bigint"
    return spark.createDataFrame(list(rows), ddl)


def _landed(store: TableStore) -> DataFrame:
    return store.read(ACCOUNT_PRICES).selectExpr(
        "price_start_time", "price_end_time", "sku_name", "get_json_object(pricing, '$.default') as price", "_source"
    )


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_account_price_exports_land_with_the_bad_row_quarantined_and_counts_adding_up(
    spark: SparkSession, tmp_path: Path, file_format: str
) -> None:
    _export(spark, tmp_path / "export", file_format)
    store = DeltaRsStore(spark, str(tmp_path / "wh"))
    source = ListPricesSource(str(tmp_path / "export"), file_format)

    assert land_account_prices(spark, store, source, Run()) == 0

    expected = spark.createDataFrame(
        [
            (datetime(2024, 1, 1), datetime(2024, 7, 1), JOBS, "0.120000000000000001", "account_prices"),
            (datetime(2024, 7, 1), None, JOBS, "0.11", "account_prices"),
        ],
        "price_start_time timestamp, price_end_time timestamp, sku_name string, price string, _source string",
    )
    assert_df_equality(_landed(store), expected, ignore_row_order=True, ignore_nullable=True)
    quarantined = store.read(QUARANTINE).select("source", "reason")
    expected_reasons = spark.createDataFrame(
        [("account_prices", "missing or unparseable price_start_time")], "source string, reason string"
    )
    assert_df_equality(quarantined, expected_reasons, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(
        _log(store), _expected_log(spark, ("landed", 3, 2, 1, 0)), ignore_row_order=True, ignore_nullable=True
    )
    assert store.version(LIST_PRICES) is None  # list prices are a table of their own

    assert land_account_prices(spark, store, source, Run()) is None  # unchanged: nothing written

    _export(spark, tmp_path / "export", file_format, ROWS[:2])  # the bad row fixed by leaving it out
    assert land_account_prices(spark, store, source, Run()) == 1
    assert store.row_count(ACCOUNT_PRICES) == 2
    assert store.read(QUARANTINE).where("source = 'account_prices'").isEmpty()


def _publish(spark: SparkSession, rows: list[tuple[str, str | None, str, str]]) -> None:
    """A stand-in for system.billing.account_prices, readable by name."""
    data = [
        (
            datetime.fromisoformat(start),
            None if end is None else datetime.fromisoformat(end),
            "acc",
            sku,
            "AWS",
            "USD",
            "DBU",
            (None if price == "" else Decimal(price), "commit-2024"),
        )
        for start, end, sku, price in rows
    ]
    spark.createDataFrame(data, TABLE_DDL).createOrReplaceTempView("billing_account_prices")


def test_account_prices_land_from_a_table_by_name_and_reload_only_when_it_changed(
    spark: SparkSession, tmp_path: Path, backend: str
) -> None:
    sources = "  account_prices:\n    table: billing_account_prices\n"
    config = load_config(write_config(tmp_path, None, None, sources=sources, storage=backend))
    store = open_store(spark, config)
    assert config.account_prices == ListPricesSource(None, "table", "billing_account_prices")
    _publish(spark, [("2024-01-01", None, JOBS, "0.12"), ("2024-01-01", None, "NO_PRICE", "")])

    assert land_account_prices(spark, store, config.account_prices, Run()) == 0
    assert store.read(ACCOUNT_PRICES).select("sku_name").collect() == [(JOBS,)]
    pricing = store.read(ACCOUNT_PRICES).select("pricing").first()
    assert pricing is not None and '"list_discount":"commit-2024"' in pricing.pricing  # kept as delivered
    reasons = store.read(QUARANTINE).select("source", "delivery", "reason")
    expected_reasons = spark.createDataFrame(
        [("account_prices", "account_prices/billing_account_prices", "pricing has no decimal default price")],
        "source string, delivery string, reason string",
    )
    assert_df_equality(reasons, expected_reasons, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(
        _log(store), _expected_log(spark, ("landed", 2, 1, 1, 0)), ignore_row_order=True, ignore_nullable=True
    )

    assert land_account_prices(spark, store, config.account_prices, Run()) is None  # same rows: nothing written
    _publish(spark, [("2024-01-01", "2024-06-01", JOBS, "0.12"), ("2024-06-01", None, JOBS, "0.1")])
    assert land_account_prices(spark, store, config.account_prices, Run()) == 1
    assert store.row_count(ACCOUNT_PRICES) == 2


def test_a_run_without_account_prices_or_discounts_writes_none_of_their_tables(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = load_config(write_config(tmp_path, None, None))
    assert config.account_prices is None and config.discounts == ()
    summary = run_pipeline(spark, config)
    store = open_store(spark, config)
    for table in (ACCOUNT_PRICES, CONTRACTED_PRICES, DISCOUNT_RULES):
        assert table.key not in summary.written and store.version(table) is None
        assert store.read(table).schema == store.empty(table).schema and store.read(table).isEmpty()


def test_a_run_lands_account_prices_and_builds_both_silver_inputs_once(spark: SparkSession, tmp_path: Path) -> None:
    export = write_prices(tmp_path / "account" / "prices.csv", [(JOBS, "2024-01-01", "", "0.1")])
    sources = f"  account_prices:\n    path: {export.parent}\n    format: csv\n"
    discounts = 'discounts:\n  - {name: sql, percent_off: "10", billing_origin_product: SQL, start: 2024-01-01}\n'
    config = load_config(write_config(tmp_path, None, None, sources=sources, extra=discounts))

    summary = run_pipeline(spark, config)
    assert {"bronze.account_prices", "silver.contracted_prices", "silver.discount_rules"} <= set(summary.written)
    store = open_store(spark, config)
    assert (store.row_count(CONTRACTED_PRICES), store.row_count(DISCOUNT_RULES)) == (1, 1)

    again = run_pipeline(spark, config)  # nothing changed: none of the three written again
    assert not {"bronze.account_prices", "silver.contracted_prices", "silver.discount_rules"} & set(again.written)
