"""Every stage over Spark Connect, as on Databricks serverless and standard access mode: no JVM in the client.

A local Spark Connect server (tests/connect_server.py) runs with the Delta Lake jars; each client is a
process of its own with SPARK_REMOTE set (tests/connect_client.py), which runs the CLI and then fails if a
JVM gateway was started or the session gave a JVM attribute. The deliveries (generated legacy CSVs with
malformed rows, the system-table exports, corrections and prices of tests/test_system_pipeline.py, then the
late corrections and new prices of tests/test_crash_safety.py) go through `ingest` and `transform`, then
`run`, over Connect into one warehouse and through the classic session into another; every table holds the
same rows in both. Then a no-op `run`, `status`, `summary` and `report` over Connect.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from benchmarks.generate import generate
from pipelines.config import PipelineConfig, load_config
from pipelines.runner import run_pipeline
from pipelines.storage import TableStore, open_store
from pipelines.tables import ALL_TABLES, INGEST_LOG, TableSpec
from tests.conftest import require_delta_spark
from tests.connect_server import SERVER_TIME_ZONE, ConnectServer, start_connect_server
from tests.test_backends import comparable
from tests.test_crash_safety import write_stage_two
from tests.test_system_pipeline import write_stage_one

# The ingest log records paths, run ids and times: what differs between two runs by nature. Every other table
# holds the same rows over Connect as on the classic session.
COMPARED = [table for table in ALL_TABLES if table is not INGEST_LOG]


@pytest.fixture(scope="module")
def connect_server(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectServer]:
    require_delta_spark(spark)  # the server loads the same Delta Lake jars
    yield from start_connect_server(tmp_path_factory.mktemp("connect-server"))


@dataclass
class Warehouses:
    """The same deliveries built over Spark Connect and on the classic session (both storage delta-spark)."""

    connect: TableStore
    classic: TableStore
    cli_args: list[str]  # --config and --set arguments that name the Connect run's warehouse
    runs: list[subprocess.CompletedProcess]


def _cli(server: ConnectServer, *args: str) -> subprocess.CompletedProcess:
    done = server.client("cli", *args)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done


def _on_warehouse(config: PipelineConfig, warehouse: Path) -> PipelineConfig:
    return load_config(config.source_file, ["storage=delta-spark", f"warehouse={warehouse}"])


@pytest.fixture(scope="module")
def built(spark: SparkSession, connect_server: ConnectServer, tmp_path_factory: pytest.TempPathFactory) -> Warehouses:
    tmp = tmp_path_factory.mktemp("connect")
    config = write_stage_one(spark, tmp)
    generate(tmp / "generated", rows=300, months=1, workspaces=2, malformed=3)
    for delivery in (tmp / "generated" / "billable-usage" / "csv").glob("*.csv"):
        shutil.copy(delivery, tmp / "legacy" / delivery.name)
    classic = _on_warehouse(config, tmp / "warehouse-classic")
    cli_args = ["--config", config.source_file, "--set", "storage=delta-spark", "--set"]
    cli_args.append(f"warehouse={tmp / 'warehouse-connect'}")

    runs = [_cli(connect_server, "ingest", *cli_args), _cli(connect_server, "transform", *cli_args)]
    run_pipeline(spark, classic)
    write_stage_two(spark, config, tmp)
    runs.append(_cli(connect_server, "run", *cli_args))
    run_pipeline(spark, classic)
    connect = _on_warehouse(config, tmp / "warehouse-connect")
    return Warehouses(open_store(spark, connect), open_store(spark, classic), cli_args, runs)


@pytest.mark.parametrize("table", COMPARED, ids=lambda table: table.key)
def test_every_table_built_over_spark_connect_holds_the_classic_sessions_rows(
    spark: SparkSession, built: Warehouses, table: TableSpec
) -> None:
    assert_df_equality(
        comparable(built.connect.read(table), table),
        comparable(built.classic.read(table), table),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_ingest_and_transform_over_spark_connect_landed_and_wrote_every_layer(built: Warehouses) -> None:
    ingest, transform, run = built.runs
    assert "tables written: bronze." in ingest.stdout and "silver." not in ingest.stdout
    assert "silver.usage" in transform.stdout and "gold.cost" in transform.stdout
    assert "gold.cost" in run.stdout  # the late corrections and new prices
    assert built.connect.version(INGEST_LOG) == built.classic.version(INGEST_LOG)


def test_a_rerun_over_spark_connect_with_nothing_new_writes_no_table_version(
    connect_server: ConnectServer, built: Warehouses
) -> None:
    before = {table.key: built.connect.version(table) for table in ALL_TABLES}
    rerun = _cli(connect_server, "run", *built.cli_args)
    assert "tables written: none" in rerun.stdout
    assert {table.key: built.connect.version(table) for table in ALL_TABLES} == before


def test_status_summary_and_report_run_over_spark_connect(
    connect_server: ConnectServer, built: Warehouses, tmp_path: Path
) -> None:
    status = _cli(connect_server, "status", *built.cli_args)
    assert "gold.cost" in status.stdout and "silver.usage" in status.stdout
    summary = _cli(connect_server, "summary", *built.cli_args)
    assert "USD" in summary.stdout
    report = tmp_path / "report.html"
    _cli(connect_server, "report", *built.cli_args, "--out", str(report))
    page = report.read_text(encoding="utf-8")
    assert "<html" in page.lower() and "Tables read" in page


def test_on_spark_connect_build_spark_keeps_the_servers_settings_and_sets_only_the_required_ones(
    connect_server: ConnectServer,
) -> None:
    done = connect_server.client("session")
    assert done.returncode == 0, done.stderr[-3000:]
    settings = json.loads(done.stdout.strip().splitlines()[-1])
    assert settings["session_type"].startswith("pyspark.sql.connect")
    assert settings["spark.sql.shuffle.partitions"] == "1"  # the server's, not the config's 8
    assert settings["spark.sql.files.maxPartitionBytes"] != "64m"  # no local default
    assert settings["spark.master"] == "local[2]"
    assert SERVER_TIME_ZONE != "UTC" and settings["spark.sql.session.timeZone"] == "UTC"
    assert settings["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"


def test_storage_delta_rs_on_spark_connect_stops_before_anything_is_written(
    connect_server: ConnectServer, built: Warehouses, tmp_path: Path
) -> None:
    """delta-rs moves and reads the files Spark wrote from the client's disk, which a Connect server need not share."""
    args = [*built.cli_args[:-1], f"warehouse={tmp_path / 'warehouse'}", "--set", "storage=delta-rs"]
    done = connect_server.client("cli", "run", *args)
    assert done.returncode not in (0, 97), done.stderr[-3000:]
    assert "needs a classic Spark session" in done.stderr
    assert not any((tmp_path / "warehouse").rglob("_delta_log"))
