"""A run killed between any two commits, then a normal run, gives the tables a clean run gives."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace as with_changes
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from deltalake.transaction import AddAction
from pyspark.sql import DataFrame, DataFrameWriter, SparkSession

from pipelines.config import PipelineConfig
from pipelines.runner import run_pipeline
from pipelines.storage import Replace, TableStore, open_store
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.storage.delta_spark import DeltaSparkStore
from pipelines.tables import ALL_TABLES, INGEST_LOG, TableSpec
from tests.conftest import (
    correction,
    require_delta_spark,
    system_record,
    usage_row,
    write_delivery,
    write_prices,
    write_system_export,
)
from tests.test_system_pipeline import O5, SERVERLESS_JOBS, WS, write_stage_one

# Columns that say when or in which run a row was written, not what it holds.
VOLATILE = {"_ingested_at", "ingested_at", "run_id", "table_version"}


class KilledAtEveryDeltaRsCommit(DeltaRsStore):
    """The real delta-rs store that, at each commit, keeps a copy of the warehouse as a kill there would leave it.

    The copy is taken after Spark wrote the new data files into the table folder and before the Delta
    commit that would make them part of the table: the state of a process that died at that moment
    (every earlier commit done, this one not, its files left behind).
    """

    def __init__(self, spark: SparkSession, warehouse: str, states: Path) -> None:
        super().__init__(spark, warehouse)
        self.states = states
        self.commits: list[str] = []

    def _kill_point(self, table: TableSpec) -> None:
        shutil.copytree(self.warehouse, self.states / f"{len(self.commits):02d}")
        self.commits.append(table.key)

    def _commit(
        self, table: TableSpec, adds: list[AddAction], replace: Replace, metadata: Mapping[str, Any]
    ) -> int | None:
        self._kill_point(table)
        return super()._commit(table, adds, replace, metadata)

    def append_rows(self, table: TableSpec, rows: Sequence[tuple[Any, ...]], metadata: Mapping[str, Any]) -> int:
        if self.version(table) is not None:  # the first append creates the table through _commit
            self._kill_point(table)
        return super().append_rows(table, rows, metadata)


class KilledAtEveryDeltaSparkCommit(DeltaSparkStore):
    """The real delta-spark store that keeps a copy of the warehouse as a kill before each Delta commit leaves it.

    Delta's writer writes the data files and then the log entry; a process killed in between leaves files
    no version names, which readers never see: the copy, taken before the write, is that state.
    """

    def __init__(self, spark: SparkSession, warehouse: str, states: Path) -> None:
        super().__init__(spark, warehouse, None, {})
        self.states = states
        self.commits: list[str] = []

    def _save(self, table: TableSpec, writer: DataFrameWriter, exists: bool, replace: Replace, metadata: str) -> None:
        shutil.copytree(self.warehouse, self.states / f"{len(self.commits):02d}")
        self.commits.append(table.key)
        super()._save(table, writer, exists, replace, metadata)


def killed_at_every_commit(
    spark: SparkSession, config: PipelineConfig, states: Path
) -> KilledAtEveryDeltaRsCommit | KilledAtEveryDeltaSparkCommit:
    if config.storage == "delta-spark":
        return KilledAtEveryDeltaSparkCommit(spark, config.warehouse, states)
    return KilledAtEveryDeltaRsCommit(spark, config.warehouse, states)


def snapshot(store: TableStore) -> dict[str, list[str]]:
    """Every table's rows without the volatile columns, as sorted text (read with deltalake: no Spark job)."""
    tables = {}
    for table in ALL_TABLES:
        if store.version(table) is None:
            continue
        data = DeltaTable(store.location(table)).to_pyarrow_table()
        kept = data.select([c for c in data.column_names if c not in VOLATILE])
        tables[table.key] = sorted(repr(sorted(row.items())) for row in kept.to_pylist())
    return tables


def write_stage_two(spark: SparkSession, config: PipelineConfig, tmp: Path) -> None:
    """New deliveries of each kind: a legacy month, a system export (late correction, bad record), new prices."""
    write_delivery(tmp / "legacy", WS, "2024-04", [usage_row(timestamp="2024-04-02T09:59:59.999Z", dbus="5.0")])
    late = [
        correction(O5, "r5", "RETRACTION", "2024-04-15"),
        correction(O5, "s5", "RESTATEMENT", "2024-04-15", usage_quantity=Decimal("2")),
        system_record("o6", "3", day="2024-04-14"),
        system_record("bad", "3", day="2024-04-14", record_type="UNKNOWN"),
    ]
    write_system_export(spark, tmp / "system", "export_date=2024-04-15", late)
    write_prices(
        tmp / "prices" / "prices.csv",
        [
            ("PREMIUM_JOBS_COMPUTE", "2023-01-01T00:00:00Z", "", "0.15"),
            (SERVERLESS_JOBS, "2023-01-01T00:00:00Z", "2024-04-01T00:00:00Z", "0.35"),
            (SERVERLESS_JOBS, "2024-04-01T00:00:00Z", "", "0.40"),
        ],
    )


def recover(spark: SparkSession, config: PipelineConfig, killed: Path, work: Path) -> dict[str, list[str]]:
    """Put a killed run's warehouse in its own folder, run normally there, and snapshot the result."""
    warehouse = work / "warehouse"
    shutil.copytree(killed, warehouse)
    recovered = with_changes(config, warehouse=str(warehouse))
    store = open_store(spark, recovered)
    run_pipeline(spark, recovered, store)
    return snapshot(store)


def test_a_run_killed_at_any_commit_converges_on_the_next_run(
    spark: SparkSession, tmp_path: Path, backend: str
) -> None:
    config = write_stage_one(spark, tmp_path, backend)
    run_pipeline(spark, config)
    write_stage_two(spark, config, tmp_path)

    killed = killed_at_every_commit(spark, config, tmp_path / "killed")
    run_pipeline(spark, config, killed)
    expected = snapshot(killed)
    assert len(killed.commits) >= 15, killed.commits

    # Recoveries are independent (each in its own warehouse): run a few at once on the one SparkSession.
    points = list(enumerate(killed.commits))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(
            lambda p: recover(spark, config, tmp_path / "killed" / f"{p[0]:02d}", tmp_path / "recovered" / str(p[0])),
            points,
        )
        for (point, table), result in zip(points, results, strict=True):
            assert result == expected, f"killed before commit {point} ({table})"


class ProcessKilled(BaseException):
    """Stands for a process killed at a given point (not an Exception: nothing may catch and carry on)."""


class KilledRightAfterDeltaCommitted(DeltaSparkStore):
    """The real delta-spark store whose process dies once, right after Delta committed a write of `table`.

    That is after the new version is in the log and before the run learnt of it (its `_committed`), so a
    retry within the same unit of work carries the same application transaction as the lost write.
    """

    def __init__(self, spark: SparkSession, warehouse: str, table: TableSpec) -> None:
        super().__init__(spark, warehouse, None, {})
        self.table = table
        self.killed: tuple[TableSpec, DataFrame, Replace, Mapping[str, Any]] | None = None
        self._writing: tuple[TableSpec, DataFrame, Replace, Mapping[str, Any]] | None = None

    def write(self, table: TableSpec, data: DataFrame, replace: Replace, metadata: Mapping[str, Any]) -> int:
        self._writing = (table, data, replace, metadata)
        return super().write(table, data, replace, metadata)

    def _save(self, table: TableSpec, writer: DataFrameWriter, exists: bool, replace: Replace, metadata: str) -> None:
        super()._save(table, writer, exists, replace, metadata)
        if table.key == self.table.key and self.killed is None:
            self.killed = self._writing
            raise ProcessKilled(f"killed right after Delta committed {table}")


def test_delta_spark_skips_a_write_repeated_after_a_kill_past_its_commit(spark: SparkSession, tmp_path: Path) -> None:
    """Delta's own idempotent writes (writer options txnAppId/txnVersion) make a repeated commit a no-op."""
    require_delta_spark(spark)
    config = write_stage_one(spark, tmp_path, "delta-spark")
    reference = with_changes(config, warehouse=str(tmp_path / "reference"))  # the same runs, never killed
    for each in (config, reference):
        run_pipeline(spark, each)
    write_stage_two(spark, config, tmp_path)
    run_pipeline(spark, reference)

    store = KilledRightAfterDeltaCommitted(spark, config.warehouse, INGEST_LOG)
    with pytest.raises(ProcessKilled):
        run_pipeline(spark, config, store)
    assert store.killed is not None
    committed, rows = store.version(INGEST_LOG), store.read(INGEST_LOG).count()
    assert committed is not None

    # The unit of work repeats the write it never saw succeed: same rows, same application transaction.
    assert store.write(*store.killed) == committed
    assert store.version(INGEST_LOG) == committed  # Delta skipped it: no new version
    assert store.read(INGEST_LOG).count() == rows  # and no row twice

    run_pipeline(spark, config)  # a fresh run carries on from the committed tables
    assert snapshot(open_store(spark, config)) == snapshot(open_store(spark, reference))
