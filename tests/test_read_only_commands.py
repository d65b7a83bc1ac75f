"""status, summary and report read gold and the ingest log as Arrow: on delta-rs they start no JVM, and their
figures are what Spark computes from the same gold tables."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
from chispa import assert_df_equality
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig, load_config
from pipelines.report.figures import gather
from pipelines.runner import run_pipeline
from pipelines.status import last_ingest, table_status
from pipelines.storage import open_reader, open_store, reads_without_spark
from pipelines.storage.arrow import contract_schema
from pipelines.storage.delta_rs import DeltaRsReader, arrow_schema
from pipelines.tables import (
    ALL_TABLES,
    COST_BY_TAG,
    COST_BY_WORKLOAD,
    COST_DAILY,
    INGEST_LOG,
    QUARANTINE,
    UNPRICED_USAGE,
)
from tests.conftest import REPO, usage_row, write_delivery
from tests.test_system_pipeline import WS, write_stage_one


@pytest.fixture(scope="module")
def built(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> PipelineConfig:
    """The system-pipeline warehouse plus an unpriced SKU, a quarantined row and a rejected delivery."""
    tmp = tmp_path_factory.mktemp("read_only")
    config = write_stage_one(spark, tmp)
    january = [usage_row(timestamp="2024-01-10T09:59:59.999Z", sku="PREMIUM_ALL_PURPOSE_COMPUTE"), ["too", "few"]]
    write_delivery(tmp / "legacy", WS, "2024-01", january)
    (tmp / "legacy" / "notes.csv").write_text("hello\n")
    summary = run_pipeline(spark, config)
    assert len(summary.rejected) == 1
    return config


def test_contract_schema_is_the_arrow_schema_spark_derives_from_the_ddl(spark: SparkSession) -> None:
    for table in ALL_TABLES:
        assert contract_schema(table) == arrow_schema(table), table.key


def test_a_missing_table_reads_as_an_empty_arrow_table_with_its_contract_columns(tmp_path: Path) -> None:
    data = DeltaRsReader(str(tmp_path)).read_arrow(COST_DAILY, ["usage_date", "effective_cost"])
    contract = contract_schema(COST_DAILY)
    assert data.num_rows == 0
    assert data.schema == pa.schema([contract.field("usage_date"), contract.field("effective_cost")])


def test_auto_reads_a_local_warehouse_with_delta_rs_and_a_catalog_or_remote_one_through_spark(
    built: PipelineConfig,
) -> None:
    auto = load_config(built.source_file, ["storage=auto"])
    assert reads_without_spark(auto)
    assert not reads_without_spark(load_config(built.source_file, ["storage=auto", "warehouse=s3://bucket/wh"]))
    assert not reads_without_spark(load_config(built.source_file, ["storage=auto", "catalog=main"]))
    assert not reads_without_spark(load_config(built.source_file, ["storage=delta-spark"]))

    def no_session() -> SparkSession:
        raise AssertionError("a local delta-rs warehouse needs no SparkSession")

    assert isinstance(open_reader(auto, no_session), DeltaRsReader)


def test_status_summary_and_report_on_delta_rs_start_no_jvm(built: PipelineConfig, tmp_path: Path) -> None:
    # A JVM would fail to start (no Java there) and would leave a Py4J gateway behind: either fails the test.
    script = textwrap.dedent(
        f"""
        import sys
        from pyspark import SparkContext
        from pipelines.cli import main
        config = {built.source_file!r}
        for argv in (["status"], ["summary"], ["report", "--out", {str(tmp_path / "report.html")!r}]):
            assert main([*argv, "--config", config, "--set", "storage=auto"]) == 0, argv
        assert SparkContext._gateway is None and SparkContext._active_spark_context is None
        """
    )
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java"), "PATH": os.path.dirname(sys.executable)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "gold.cost_daily" in done.stdout and "Cost per SKU" in done.stdout and "report written to" in done.stdout
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def _frame(spark: SparkSession, rows: list, ddl: str) -> DataFrame:
    return spark.createDataFrame(rows, ddl)


def _cost() -> Column:
    """The priced cost of a group: 0 where nothing in it was priced (the report shows 0.00, not a blank)."""
    return F.coalesce(F.sum("effective_cost"), F.lit(0).cast("decimal(38,18)")).alias("cost")


def test_report_figures_equal_the_gold_sums_spark_computes(spark: SparkSession, built: PipelineConfig) -> None:
    figures = gather(DeltaRsReader(built.warehouse), "USD")
    store = open_store(spark, built)
    daily = store.read(COST_DAILY).where("currency_code = 'USD'")

    assert figures.total_cost == daily.agg(F.sum("effective_cost")).collect()[0][0]
    assert figures.list_total == daily.agg(F.sum("list_cost")).collect()[0][0]
    assert figures.contracted_total == daily.agg(F.sum("contracted_cost")).collect()[0][0]
    expected = daily.groupBy("usage_date", F.coalesce("sku_name", F.lit("(unknown)")).alias("product")).agg(_cost())
    actual = _frame(spark, figures.daily_by_product, "usage_date date, product string, cost decimal(38,18)")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)

    keys = ["workload_type", "workload_id", "workload_name"]
    workloads = (
        store.read(COST_BY_WORKLOAD)
        .where("currency_code = 'USD' AND workload_type IS NOT NULL")
        .groupBy(*keys)
        .agg(_cost())
        .select(F.col("workload_type"), *(F.coalesce(c, F.lit("")).alias(c) for c in keys[1:]), "cost")
    )
    actual = _frame(spark, figures.top_workloads, f"{', '.join(k + ' string' for k in keys)}, cost decimal(38,18)")
    assert workloads.count() <= 10 and len(figures.top_workloads) > 0
    assert_df_equality(actual, workloads, ignore_row_order=True, ignore_nullable=True)

    tags = store.read(COST_BY_TAG).where("currency_code = 'USD'").groupBy("tag_key", "tag_value")
    actual = _frame(spark, figures.cost_by_tag, "tag_key string, tag_value string, cost decimal(38,18)")
    expected = tags.agg(_cost())
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)

    unpriced = store.read(UNPRICED_USAGE).groupBy("unpriced_reason", F.coalesce("sku_name", F.lit("")).alias("sku"))
    actual = _frame(spark, figures.unpriced, "unpriced_reason string, sku string, count bigint")
    assert figures.unpriced and actual.count() == len(figures.unpriced)
    assert_df_equality(actual, unpriced.count(), ignore_row_order=True, ignore_nullable=True)

    actual = _frame(spark, figures.quarantined, "source string, reason string, count bigint")
    assert figures.quarantined
    expected = store.read(QUARANTINE).groupBy("source", "reason").count()
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_status_equals_the_table_versions_and_the_ingest_log_as_spark_reads_them(
    spark: SparkSession, built: PipelineConfig
) -> None:
    reader, store = DeltaRsReader(built.warehouse), open_store(spark, built)
    statuses = table_status(reader)
    assert [(s.table, s.version, s.rows) for s in statuses] == [
        (t.key, store.version(t), store.read(t).count() if store.version(t) is not None else 0) for t in ALL_TABLES
    ]

    log = store.read(INGEST_LOG)
    expected = log.groupBy("source").agg(
        F.date_format(F.max("ingested_at"), "yyyy-MM-dd HH:mm:ss").alias("last_ingested_at"),
        F.countDistinct("delivery").alias("deliveries"),
        F.sum(F.when(F.col("status") == "rejected", 1).otherwise(0)).alias("rejections"),
        F.sum("rows_landed").alias("rows_landed"),
        F.sum("rows_quarantined").alias("rows_quarantined"),
    )  # one run: each delivery has one log row
    actual = spark.createDataFrame(
        last_ingest(reader),
        "source string, last_ingested_at string, deliveries bigint, rejections bigint, rows_landed bigint,"
        " rows_quarantined bigint",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)
    assert {r["source"]: r["rejections"] for r in last_ingest(reader)}["legacy_csv"] == 1
