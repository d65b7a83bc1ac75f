"""The same deliveries through both storage backends build the same silver and gold tables, row for row."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from pipelines.config import load_config
from pipelines.runner import run_pipeline
from pipelines.storage import open_store
from pipelines.tables import ALL_TABLES, TableSpec
from tests.conftest import require_delta_spark
from tests.test_crash_safety import write_stage_two
from tests.test_system_pipeline import write_stage_one

# Columns that say when a row was written, not what it holds.
RUN_TIME = ("_ingested_at",)
DERIVED = [table for table in ALL_TABLES if table.layer in ("silver", "gold")]


def comparable(data: DataFrame, table: TableSpec) -> DataFrame:
    """The rows without run-time columns, in the contract's column order (delta-rs reads return partition columns
    last), maps as sorted entry arrays (Spark cannot sort rows by a map)."""
    return data.select(
        *[
            F.array_sort(F.map_entries(f.name)).alias(f.name) if isinstance(f.dataType, MapType) else F.col(f.name)
            for f in table.schema().fields
            if f.name not in RUN_TIME
        ]
    )


@pytest.mark.parametrize("table", DERIVED, ids=lambda table: table.key)
def test_both_backends_build_the_same_silver_and_gold_rows(spark: SparkSession, built_on_both, table) -> None:
    delta_rs, delta_spark = built_on_both
    assert_df_equality(
        comparable(delta_spark.read(table), table),
        comparable(delta_rs.read(table), table),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert delta_spark.row_count(table) == delta_rs.row_count(table)


@pytest.fixture(scope="module")
def built_on_both(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):
    """Legacy CSVs, system exports with corrections and prices, then late corrections and new prices, on each backend.

    Both warehouses read the very same delivery files, so even the lineage columns naming them agree.
    """
    require_delta_spark(spark)
    tmp = tmp_path_factory.mktemp("backends")
    config = write_stage_one(spark, tmp)
    stores = []
    for backend in ("delta-rs", "delta-spark"):
        on_backend = load_config(
            config.source_file, [f"storage={backend}", f"warehouse={Path(tmp, 'warehouse-' + backend)}"]
        )
        stores.append((on_backend, open_store(spark, on_backend)))
    for on_backend, store in stores:
        run_pipeline(spark, on_backend, store)
    write_stage_two(spark, config, tmp)
    for on_backend, store in stores:
        run_pipeline(spark, on_backend, store)
    return [store for _, store in stores]
