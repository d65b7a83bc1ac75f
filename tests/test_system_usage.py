"""System usage records: validation, record_id dedupe, and netting of corrections (transform level)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.bronze import system_usage as bronze
from pipelines.bronze.ingest_log import Run
from pipelines.bronze.land_system import land_system_usage
from pipelines.config import SystemUsageSource, load_config
from pipelines.silver import system_usage as silver
from pipelines.storage import open_store
from pipelines.tables import QUARANTINE, SYSTEM_USAGE
from tests.conftest import correction, system_frame, system_record, write_config


def landed(spark: SparkSession, records: list[tuple]) -> DataFrame:
    """Records as bronze stores them (through the same text rendering and checks as a real landing)."""
    text = bronze.as_text(system_frame(spark, records).withColumn("_source_file", F.lit("export")), F.lit("d"))
    return bronze.landed_rows(bronze.validate(text), F.lit(None).cast("string"), F.current_timestamp())


# What netting decides: the SKU, the tags (as sorted entries: Spark cannot sort a map), the hour and the quantity.
NETTED = (
    "sku_name string, custom_tags array<struct<key:string,value:string>>, start_hour int, usage_quantity decimal(38,18)"
)


def netted_rows(usage: DataFrame) -> DataFrame:
    return usage.select(
        "sku_name",
        F.array_sort(F.map_entries("custom_tags")).alias("custom_tags"),
        F.hour("usage_start_time").alias("start_hour"),
        "usage_quantity",
    )


def netted(spark: SparkSession, records: list[tuple]) -> DataFrame:
    return netted_rows(silver.to_usage(landed(spark, records)))


ORIGINAL = system_record("o1", quantity="259.4356", tags={"team": "ml"})
SKU = ORIGINAL[3]
ML = [("team", "ml")]


def test_an_original_alone_stays_as_it_is(spark):
    expected = spark.createDataFrame([(SKU, ML, 10, Decimal("259.4356"))], NETTED)
    assert_df_equality(netted(spark, [ORIGINAL]), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_lone_retraction_removes_the_usage(spark):
    retraction = correction(ORIGINAL, "r1", "RETRACTION", "2024-03-20")
    expected = spark.createDataFrame([], NETTED)
    assert_df_equality(netted(spark, [ORIGINAL, retraction]), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_restatement_replaces_the_quantity(spark):
    retraction = correction(ORIGINAL, "r1", "RETRACTION", "2024-03-20")
    restatement = correction(ORIGINAL, "s1", "RESTATEMENT", "2024-03-20", usage_quantity=Decimal("100.5"))
    expected = spark.createDataFrame([(SKU, ML, 10, Decimal("100.5"))], NETTED)
    actual = netted(spark, [ORIGINAL, retraction, restatement])
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_restatement_that_changes_a_tag_moves_the_usage_to_the_new_tag(spark):
    retraction = correction(ORIGINAL, "r1", "RETRACTION", "2024-03-20")
    restatement = correction(ORIGINAL, "s1", "RESTATEMENT", "2024-03-20", custom_tags={"team": "bi"})
    expected = spark.createDataFrame([(SKU, [("team", "bi")], 10, Decimal("259.4356"))], NETTED)
    actual = netted(spark, [ORIGINAL, retraction, restatement])
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_restatement_that_changes_the_sku_moves_the_usage_to_the_new_sku(spark):
    retraction = correction(ORIGINAL, "r1", "RETRACTION", "2024-03-20")
    restatement = correction(ORIGINAL, "s1", "RESTATEMENT", "2024-03-20", sku_name="PREMIUM_JOBS_COMPUTE")
    expected = spark.createDataFrame([("PREMIUM_JOBS_COMPUTE", ML, 10, Decimal("259.4356"))], NETTED)
    actual = netted(spark, [ORIGINAL, retraction, restatement])
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_tag_maps_net_whatever_order_their_keys_arrive_in(spark):
    two_tags = system_record("o2", quantity="2", tags={"a": "1", "b": "2"})
    # The same map written with its keys in the other order, as JSON text would carry it.
    retraction = correction(two_tags, "r2", "RETRACTION", "2024-03-20")
    text = bronze.as_text(
        system_frame(spark, [two_tags, retraction]).withColumn("_source_file", F.lit("x")), F.lit("d")
    )
    reordered = text.withColumn(
        "custom_tags", F.when(F.col("record_id") == "r2", F.lit('{"b":"2","a":"1"}')).otherwise(F.col("custom_tags"))
    )
    usage = silver.to_usage(bronze.landed_rows(bronze.validate(reordered), F.lit(None), F.current_timestamp()))
    expected = spark.createDataFrame([], NETTED)
    assert_df_equality(netted_rows(usage), expected, ignore_row_order=True, ignore_nullable=True)


def test_netted_totals_equal_the_seed_group_by_all_query(spark):
    """The seed's `GROUP BY ALL HAVING sum != 0` over raw records, summed per workspace, day, SKU and unit."""
    records = [ORIGINAL, correction(ORIGINAL, "r1", "RETRACTION", "2024-03-20")]
    records += [system_record(f"o{i}", quantity=f"{i}.25", hour=i, day=f"2024-03-0{1 + i % 3}") for i in range(2, 9)]
    third = records[4]
    records += [
        correction(third, "r3", "RETRACTION", "2024-04-01"),
        correction(third, "s3", "RESTATEMENT", "2024-04-01", usage_quantity=Decimal("0.125")),
        system_record("dsu", quantity="7", unit="DSU", sku="PREMIUM_DEFAULT_STORAGE_US_EAST_N_VIRGINIA", job=None),
    ]
    system_frame(spark, records).createOrReplaceTempView("raw_usage")
    seed = spark.sql(
        """
        SELECT workspace_id, usage_date, sku_name, usage_unit, SUM(usage_quantity) AS quantity FROM (
          SELECT workspace_id, usage_date, sku_name, usage_unit, usage_metadata.job_id, usage_start_time,
                 usage_end_time, to_json(custom_tags) AS tags, SUM(usage_quantity) AS usage_quantity
          FROM raw_usage GROUP BY ALL HAVING usage_quantity != 0)
        GROUP BY ALL
        """
    )
    ours = (
        silver.to_usage(landed(spark, records))
        .groupBy("workspace_id", "usage_date", "sku_name", "usage_unit")
        .agg(F.sum("usage_quantity").alias("quantity"))
    )
    assert_df_equality(ours, seed, ignore_row_order=True, ignore_nullable=True)
    assert {r.usage_unit for r in ours.collect()} == {"DBU", "DSU"}


def test_bad_records_get_a_reason_and_good_ones_none(spark):
    good = system_record("g1")
    no_id = system_record("")
    bad_type = system_record("b2", record_type="CORRECTION")
    frame = system_frame(spark, [good, no_id, bad_type]).withColumn("_source_file", F.lit("x"))
    reasons = bronze.validate(bronze.as_text(frame, F.lit("d"))).select("record_id", "_reason")
    expected = spark.createDataFrame(
        [
            ("g1", None),
            ("", "missing record_id"),
            ("b2", "record_type is not one of ORIGINAL, RETRACTION, RESTATEMENT"),
        ],
        "record_id string, _reason string",
    )
    assert_df_equality(reasons, expected, ignore_row_order=True, ignore_nullable=True)


def test_new_records_keeps_each_record_id_once_and_skips_what_bronze_holds(spark):
    first = landed(spark, [system_record("a"), system_record("b")])
    again = landed(spark, [system_record("b"), system_record("c"), system_record("c")])
    new = bronze.new_records(again, first).select("record_id")
    expected = spark.createDataFrame([("c",)], "record_id string")
    assert_df_equality(new, expected, ignore_row_order=True, ignore_nullable=True)


def write_as(spark: SparkSession, folder: Path, file_format: str, records: list[tuple]) -> None:
    """The records exported as Parquet, JSON lines, or CSV with the nested columns as JSON text."""
    frame = system_frame(spark, records)
    if file_format == "csv":
        nested = [c for c, kind in frame.dtypes if kind.startswith(("map", "struct"))]
        frame = frame.withColumns({c: F.to_json(c) for c in nested})
        frame.coalesce(1).write.option("header", "true").option("escape", '"').csv(str(folder))
    else:
        frame.coalesce(1).write.format(file_format).save(str(folder))


@pytest.mark.parametrize("file_format", ["parquet", "json", "csv"])
def test_exports_in_every_format_land_the_same_records(spark: SparkSession, tmp_path: Path, file_format: str):
    original = system_record("o1", "1.25", tags={"team": "ml", "note": 'says "hi", twice'})
    no_unit = system_record("bad", unit="")  # quarantined
    records = [original, correction(original, "r1", "RETRACTION", "2024-03-20"), no_unit]
    write_as(spark, tmp_path / "exports" / "day=1", file_format, records)
    config = load_config(write_config(tmp_path, None, None))
    store = open_store(spark, config)
    source = SystemUsageSource(str(tmp_path / "exports"), file_format)

    result = land_system_usage(spark, store, source, Run())

    assert [(e.rows_read, e.rows_landed, e.rows_quarantined) for e in result.landed] == [(3, 2, 1)]
    quantities = store.read(SYSTEM_USAGE).select("record_id", "usage_quantity")
    expected = spark.createDataFrame(
        [("o1", Decimal("1.25")), ("r1", Decimal("-1.25"))], "record_id string, usage_quantity decimal(38,18)"
    )
    assert_df_equality(quantities, expected, ignore_row_order=True, ignore_nullable=True)
    o1 = store.read(SYSTEM_USAGE).where("record_id = 'o1'").collect()[0]
    assert json.loads(o1.custom_tags) == {"team": "ml", "note": 'says "hi", twice'}
    assert json.loads(o1.usage_metadata)["job_name"] == "nightly etl"
    reasons = store.read(QUARANTINE).select("reason")
    expected_reasons = spark.createDataFrame([("missing usage_unit",)], "reason string")
    assert_df_equality(reasons, expected_reasons, ignore_row_order=True, ignore_nullable=True)
    assert silver.to_usage(store.read(SYSTEM_USAGE)).count() == 0  # the retraction nets the original away
    assert land_system_usage(spark, store, source, Run()).landed == []  # unchanged files are skipped


def test_files_that_are_not_usage_exports_are_rejected_whole(spark: SparkSession, tmp_path: Path):
    exports = tmp_path / "exports"
    write_as(spark, exports / "good", "csv", [system_record("o1")])
    (exports / "bad").mkdir()
    (exports / "bad" / "other.csv").write_text("record_id,usage_quantity\nx,1\n")
    (exports / "bad" / "empty.csv").write_text("")
    config = load_config(write_config(tmp_path, None, None))
    store = open_store(spark, config)

    result = land_system_usage(spark, store, SystemUsageSource(str(exports), "csv"), Run())

    assert [e.rows_landed for e in result.landed] == [1]
    errors = {e.delivery.rsplit("/", 1)[-1]: cast(str, e.error) for e in result.rejected}
    assert errors["other.csv"].startswith("missing columns: workspace_id, sku_name")
    assert errors["empty.csv"].startswith("missing columns: record_id")
    assert store.row_count(SYSTEM_USAGE) == 1
