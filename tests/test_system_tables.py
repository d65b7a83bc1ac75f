"""Reading `system.billing.*` as tables (as on Databricks): incremental by ingestion date, with a look-back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from pipelines.config import load_config
from pipelines.runner import run_pipeline
from pipelines.storage import open_store
from pipelines.tables import ALL_TABLES, COST, INGEST_LOG, LIST_PRICES, SYSTEM_USAGE
from tests.conftest import SERVERLESS_JOBS, correction, system_frame, system_record, write_config

PRICES_DDL = (
    "price_start_time timestamp, price_end_time timestamp, account_id string, sku_name string, cloud string,"
    " currency_code string, usage_unit string,"
    " pricing struct<default:decimal(30,18), effective_list:struct<default:decimal(30,18)>>"
)


def publish(spark: SparkSession, records: list[tuple], prices: list[tuple]) -> None:
    """Stand-ins for system.billing.usage and system.billing.list_prices, readable by name."""
    system_frame(spark, records).createOrReplaceTempView("billing_usage")
    spark.createDataFrame(prices, PRICES_DDL).createOrReplaceTempView("billing_list_prices")


def price(value: str, start: str = "2024-01-01", end: str | None = None) -> tuple:
    amount = Decimal(value)
    return (
        datetime.fromisoformat(start),
        None if end is None else datetime.fromisoformat(end),
        "acc",
        SERVERLESS_JOBS,
        "AWS",
        "USD",
        "DBU",
        (amount, (amount,)),
    )


def test_tables_are_read_incrementally_and_a_rerun_writes_nothing(spark: SparkSession, tmp_path: Path) -> None:
    sources = (
        "  system_usage:\n    table: billing_usage\n    lookback_days: 2\n"
        "  list_prices:\n    table: billing_list_prices\n"
    )
    config = load_config(write_config(tmp_path, None, None, sources=sources))
    first = [system_record("a", "2", day="2024-03-01"), system_record("b", "3", day="2024-03-02")]
    publish(spark, first, [price("0.5")])
    run_pipeline(spark, config)
    store = open_store(spark, config)
    assert store.row_count(SYSTEM_USAGE) == 2
    assert store.read(COST).agg({"effective_cost": "sum"}).collect()[0][0] == Decimal("2.5")
    commit = store.last_commit(SYSTEM_USAGE)
    assert commit is not None
    assert commit.metadata["max_ingestion_date"] == "2024-03-03"

    versions = {t.key: store.version(t) for t in ALL_TABLES}
    assert run_pipeline(spark, config).written == {}
    assert {t.key: store.version(t) for t in ALL_TABLES} == versions

    # Later: a correction of 2024-03-01 arrives, and a price change from 2024-03-02 on.
    later = [
        *first,
        correction(first[0], "r", "RETRACTION", "2024-03-04"),
        system_record("c", "1", "2024-03-04", ingested="2024-03-04"),
    ]
    publish(spark, later, [price("0.5", end="2024-03-02"), price("0.6", start="2024-03-02")])
    summary = run_pipeline(spark, config)
    assert {"bronze.system_usage", "bronze.list_prices", "gold.cost"} <= set(summary.written)
    ids = spark.createDataFrame([("a",), ("b",), ("c",), ("r",)], "record_id string")
    assert_df_equality(store.read(SYSTEM_USAGE).select("record_id"), ids, ignore_row_order=True, ignore_nullable=True)
    costs = store.read(COST).select("record_id", "effective_cost")
    # a retracted; b and c at the new price
    expected = spark.createDataFrame(
        [("b", Decimal("1.8")), ("c", Decimal("0.6"))], "record_id string, effective_cost decimal(38,18)"
    )
    assert_df_equality(costs, expected, ignore_row_order=True, ignore_nullable=True)
    usage_log = [r for r in store.read_rows(INGEST_LOG) if r["source"] == "system_usage"]
    # One entry per ingestion date read: 03-02 and 03-03 first, then 03-04 (03-02 and 03-03 unchanged).
    assert sorted(r["delivery"] for r in usage_log) == [
        "billing_usage@ingestion_date=2024-03-02",
        "billing_usage@ingestion_date=2024-03-03",
        "billing_usage@ingestion_date=2024-03-04",
    ]
    assert store.row_count(LIST_PRICES) == 2
