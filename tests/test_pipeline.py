"""The whole run on generated deliveries: idempotence, re-deliveries, other Delta readers."""

from __future__ import annotations

import csv
import logging
import random
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import MapType, StructType

from benchmarks.generate import WORKSPACES, generate, write_month_file
from pipelines.config import PipelineConfig
from pipelines.incremental import _month_days
from pipelines.runner import run_pipeline
from pipelines.storage import open_store
from pipelines.tables import ALL_TABLES, COST, COST_DAILY, LEGACY_USAGE, QUARANTINE, USAGE
from tests.conftest import config_for, write_delivery

ROWS = 600


@pytest.fixture(scope="module")
def built(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, backend: str) -> PipelineConfig:
    tmp = tmp_path_factory.mktemp("pipeline")
    generate(tmp / "data", rows=ROWS, months=2, workspaces=2, malformed=3)
    config = config_for(tmp, tmp / "data" / "billable-usage" / "csv", tmp / "data" / "list_prices", backend)
    run_pipeline(spark, config)
    return config


def test_every_delivered_row_is_landed_or_quarantined_and_costed_once(
    spark: SparkSession, built: PipelineConfig
) -> None:
    store = open_store(spark, built)
    assert store.row_count(LEGACY_USAGE) + store.row_count(QUARANTINE) == ROWS
    assert store.row_count(QUARANTINE) == 3
    assert store.row_count(USAGE) == store.row_count(COST) == store.row_count(LEGACY_USAGE)
    assert store.read(COST).select("record_id").distinct().count() == store.row_count(COST)


def test_rerun_with_no_new_input_writes_no_table_version(spark: SparkSession, built: PipelineConfig) -> None:
    store = open_store(spark, built)
    before = {t.key: store.version(t) for t in ALL_TABLES}
    summary = run_pipeline(spark, built)
    assert summary.written == {}
    assert {t.key: store.version(t) for t in ALL_TABLES} == before


def test_tables_read_back_by_the_deltalake_reader_give_the_same_totals(
    spark: SparkSession, built: PipelineConfig
) -> None:
    store = open_store(spark, built)
    for table, column in ((COST, "effective_cost"), (COST_DAILY, "effective_cost"), (USAGE, "usage_quantity")):
        arrow = DeltaTable(store.location(table)).to_pyarrow_table()
        spark_total = store.read(table).agg(F.sum(column)).collect()[0][0]
        assert arrow.num_rows == store.row_count(table)
        assert pc.sum(arrow.column(column)).as_py() == spark_total


def _comparable(data: DataFrame) -> DataFrame:
    """Rows without run lineage, with maps and structs as JSON so they can be sorted and compared."""
    simple = (MapType, StructType)
    return data.select(
        *[
            F.to_json(f.name).alias(f.name) if isinstance(f.dataType, simple) else F.col(f.name)
            for f in data.schema.fields
            if f.name not in ("_ingested_at", "_source_file")
        ]
    )


def _redeliver(data: Path, workspace_index: int, month: str, rows: int, seed: int) -> None:
    workspace = WORKSPACES[workspace_index]
    path = data / "billable-usage" / "csv" / f"workspaceId={workspace.workspace_id}-usageMonth={month}.csv"
    write_month_file(path, workspace, month, rows, random.Random(seed))


def _changed_dates(spark: SparkSession, config: PipelineConfig, table) -> set[date]:
    commit = open_store(spark, config).last_commit(table)
    assert commit is not None
    return {date.fromisoformat(d) for d in commit.metadata["changed"]["usage_dates"]}


def _usage_date(timestamp: str) -> date:
    """The usage date silver gives a legacy timestamp: the start date of the hour it ends."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    hour = moment.replace(minute=0, second=0, microsecond=0)
    end = hour if hour == moment else hour + timedelta(hours=1)
    return (end - timedelta(hours=1)).date()


def _assert_same_as_clean_build(spark: SparkSession, config: PipelineConfig, tmp_path: Path) -> None:
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean = config_for(
        clean_dir, tmp_path / "data" / "billable-usage" / "csv", tmp_path / "data" / "list_prices", config.storage
    )
    run_pipeline(spark, clean)
    store, clean_store = open_store(spark, config), open_store(spark, clean)
    for table in (USAGE, COST, COST_DAILY):
        assert_df_equality(
            _comparable(store.read(table)),
            _comparable(clean_store.read(table)),
            ignore_row_order=True,
            ignore_nullable=True,
            ignore_column_order=False,
        )
    shutil.rmtree(clean_dir)


def test_redelivered_files_that_grow_or_shrink_recompute_the_changed_dates_of_their_month(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    generate(tmp_path / "data", rows=ROWS, months=2, workspaces=2, malformed=0)  # 150 rows per file
    config = config_for(
        tmp_path, tmp_path / "data" / "billable-usage" / "csv", tmp_path / "data" / "list_prices", backend
    )
    store = open_store(spark, config)
    run_pipeline(spark, config)

    _redeliver(tmp_path / "data", 0, "2024-02", 400, seed=1)  # grows from 150 rows
    _redeliver(tmp_path / "data", 1, "2024-02", 20, seed=2)  # shrinks from 150 rows
    with caplog.at_level(logging.INFO, logger="pipelines"):
        redelivered = run_pipeline(spark, config)
    # --verbose explains each decision: which files land, which dates are recomputed and why.
    assert "content changed since it was landed; it replaces that delivery" in caplog.text
    assert (
        "recomputing silver.usage usage dates 2024-02-01..2024-02-29 because bronze.legacy_usage moved from version 0"
        " to 1 (v1 changed usage dates 2024-02-01..2024-02-29)" in caplog.text
    )
    assert "skipping" in caplog.text and "2024-01.csv: same path, size and modification time" in caplog.text
    assert [e.delivery[-7:] for e in redelivered.landed] == ["2024-02", "2024-02"]
    february = _month_days("2024-02")  # new random rows: every February date differs
    assert _changed_dates(spark, config, USAGE) == _changed_dates(spark, config, COST) == february
    assert _changed_dates(spark, config, COST_DAILY) == february  # January is not touched
    counts = store.read(LEGACY_USAGE).groupBy("workspace_id", "usage_month").count()
    first, second = WORKSPACES[0].workspace_id, WORKSPACES[1].workspace_id
    expected = spark.createDataFrame(
        [(first, "2024-01", 150), (first, "2024-02", 400), (second, "2024-01", 150), (second, "2024-02", 20)],
        "workspace_id string, usage_month string, count bigint",
    )
    assert_df_equality(counts, expected, ignore_row_order=True, ignore_nullable=True)
    assert store.row_count(COST) == ROWS - 150 + 400 - 150 + 20
    _assert_same_as_clean_build(spark, config, tmp_path)


def test_month_to_date_redelivery_recomputes_only_the_dates_whose_rows_changed(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    generate(tmp_path / "data", rows=ROWS, months=2, workspaces=2, malformed=0)
    config = config_for(
        tmp_path, tmp_path / "data" / "billable-usage" / "csv", tmp_path / "data" / "list_prices", backend
    )
    store = open_store(spark, config)
    run_pipeline(spark, config)

    workspace = WORKSPACES[0].workspace_id
    path = tmp_path / "data" / "billable-usage" / "csv" / f"workspaceId={workspace}-usageMonth=2024-02.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    column = {name: i for i, name in enumerate(header)}
    stamp, dbus = column["timestamp"], column["dbus"]
    changed_row = rows[0]
    changed_row[dbus] = "123.456"  # a corrected quantity on one day
    removed = next(r for r in rows if _usage_date(r[stamp]) != _usage_date(changed_row[stamp]))
    rows.remove(removed)  # a record withdrawn on another day
    appended = list(rows[1])
    appended[stamp] = "2024-02-29T23:59:59.999Z"  # the month's next day, delivered now
    rows.append(appended)
    expected = {_usage_date(r[stamp]) for r in (changed_row, removed, appended)}
    write_delivery(path.parent, workspace, "2024-02", rows[::-1], header)  # row order does not matter
    with caplog.at_level(logging.INFO, logger="pipelines"):
        run_pipeline(spark, config)

    bronze = store.last_commit(LEGACY_USAGE)
    assert bronze is not None and bronze.metadata["changed"]["usage_months"] == []
    assert {date.fromisoformat(d) for d in bronze.metadata["changed"]["usage_dates"]} == expected
    assert f"landing {workspace}/2024-02 changes rows on usage dates" in caplog.text
    for table in (USAGE, COST, COST_DAILY):
        assert _changed_dates(spark, config, table) == expected
    _assert_same_as_clean_build(spark, config, tmp_path)

    write_delivery(path.parent, workspace, "2024-02", rows, header)  # the same rows in their first order
    silver_version = store.version(USAGE)
    summary = run_pipeline(spark, config)
    assert [e.delivery for e in summary.landed] == [path.stem]
    assert _changed_dates(spark, config, USAGE) == set() and store.version(USAGE) == (silver_version or 0) + 1
    assert store.read(USAGE).count() == store.row_count(LEGACY_USAGE)


def test_changed_price_window_recomputes_the_dates_it_covers(spark: SparkSession, tmp_path: Path, backend: str) -> None:
    generate(tmp_path / "data", rows=300, months=2, workspaces=1, malformed=0)
    prices = tmp_path / "data" / "list_prices" / "list_prices.csv"
    config = config_for(tmp_path, tmp_path / "data" / "billable-usage" / "csv", prices.parent, backend)
    run_pipeline(spark, config)

    lines = prices.read_text().splitlines()
    changed = [lines[0]] + [line.replace("2024-02-15T00:00:00.000Z", "2024-02-20T00:00:00.000Z") for line in lines[1:]]
    prices.write_text("\n".join(changed) + "\n")
    run_pipeline(spark, config)

    dates = _changed_dates(spark, config, COST)
    assert min(dates) == date(2024, 2, 14)  # usage ending at midnight on the 15th is dated the 14th
    assert max(dates) == date(2024, 2, 20)
    assert not any(d.month == 1 for d in dates)
