"""A run killed between any two commits, then a normal run, gives the tables a clean run gives."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace as with_changes
from decimal import Decimal
from pathlib import Path
from typing import Any

from deltalake import DeltaTable
from deltalake.transaction import AddAction
from pyspark.sql import SparkSession

from pipelines.config import PipelineConfig
from pipelines.runner import run_pipeline
from pipelines.storage import Replace
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import ALL_TABLES, TableSpec
from tests.conftest import correction, system_record, usage_row, write_delivery, write_prices, write_system_export
from tests.test_system_pipeline import O5, SERVERLESS_JOBS, WS, write_stage_one

# Columns that say when or in which run a row was written, not what it holds.
VOLATILE = {"_ingested_at", "ingested_at", "run_id", "table_version"}


class KilledAtEveryCommit(DeltaRsStore):
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


def snapshot(store: DeltaRsStore) -> dict[str, list[str]]:
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
    store = DeltaRsStore(spark, recovered.warehouse)
    run_pipeline(spark, recovered, store)
    return snapshot(store)


def test_a_run_killed_at_any_commit_converges_on_the_next_run(spark: SparkSession, tmp_path: Path) -> None:
    config = write_stage_one(spark, tmp_path)
    run_pipeline(spark, config)
    write_stage_two(spark, config, tmp_path)

    killed = KilledAtEveryCommit(spark, config.warehouse, tmp_path / "killed")
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
