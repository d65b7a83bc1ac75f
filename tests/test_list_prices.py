"""List-prices exports in each format land in bronze and become exact price windows in silver."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from pipelines.bronze.ingest_log import Run
from pipelines.bronze.land_prices import land_list_prices
from pipelines.config import ListPricesSource
from pipelines.silver.refresh import refresh_prices
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import LIST_PRICES, PRICES, QUARANTINE

ROWS = [
    ("2023-01-01T00:00:00.000Z", "2024-02-15T00:00:00.000Z", "PREMIUM_JOBS_COMPUTE", "0.150000000000000001", "0.15"),
    ("2024-02-15T00:00:00.000Z", None, "PREMIUM_JOBS_COMPUTE", "0.20", "0.18"),
    ("not a time", None, "BROKEN", "1", "1"),
]


def _export(spark: SparkSession, folder: Path, file_format: str) -> None:
    data = spark.createDataFrame(
        [(start, end, "acc", sku, "AWS", "USD", "DBU", price, effective) for start, end, sku, price, effective in ROWS],
        "start string, end string, account_id string, sku_name string, cloud string, currency_code string,"
        " usage_unit string, price string, effective string",
    )
    if file_format == "parquet":  # the system table's shape: timestamps and a pricing struct
        data = data.selectExpr(
            "try_to_timestamp(start) as price_start_time",
            "try_to_timestamp(end) as price_end_time",
            "account_id",
            "sku_name",
            "cloud",
            "currency_code",
            "usage_unit",
            "named_struct('default', price, 'effective_list', named_struct('default', effective)) as pricing",
        )
    else:  # an export as text: pricing as a JSON string
        data = data.selectExpr(
            "start as price_start_time",
            "end as price_end_time",
            "account_id",
            "sku_name",
            "cloud",
            "currency_code",
            "usage_unit",
            "to_json(named_struct('default', price, 'effective_list', named_struct('default', effective))) as pricing",
        )
    writer = data.coalesce(1).write.mode("overwrite")
    if file_format == "csv":
        writer.option("header", "true").option("escape", '"').csv(str(folder))
    elif file_format == "json":
        writer.json(str(folder))
    else:
        writer.parquet(str(folder))


@pytest.mark.parametrize("file_format", ["parquet", "csv", "json"])
def test_list_price_exports_land_and_become_exact_windows(
    spark: SparkSession, tmp_path: Path, file_format: str
) -> None:
    _export(spark, tmp_path / "export", file_format)
    store = DeltaRsStore(spark, str(tmp_path / "wh"))

    assert land_list_prices(spark, store, ListPricesSource(str(tmp_path / "export"), file_format), Run()) == 0
    refresh_prices(store)

    assert store.row_count(LIST_PRICES) == 2
    reasons = store.read(QUARANTINE).select("reason")
    expected_reasons = spark.createDataFrame([("missing or unparseable price_start_time",)], "reason string")
    assert_df_equality(reasons, expected_reasons, ignore_row_order=True, ignore_nullable=True)
    columns = ("price_start_time", "price_end_time", "list_price", "effective_list_price", "overlaps_other_window")
    windows = store.read(PRICES).select(*columns)
    expected = spark.createDataFrame(
        [
            (datetime(2023, 1, 1), datetime(2024, 2, 15), Decimal("0.150000000000000001"), Decimal("0.15"), False),
            (datetime(2024, 2, 15), None, Decimal("0.2"), Decimal("0.18"), False),
        ],
        "price_start_time timestamp, price_end_time timestamp, list_price decimal(38,18),"
        " effective_list_price decimal(38,18), overlaps_other_window boolean",
    )
    assert_df_equality(windows, expected, ignore_row_order=True, ignore_nullable=True)

    again = land_list_prices(spark, store, ListPricesSource(str(tmp_path / "export"), file_format), Run())
    assert again is None
