"""Two runs at once on one warehouse: the lease serialises them, and without it no row is committed twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace as with_changes
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from pipelines.bronze.ingest_log import Run
from pipelines.bronze.land_system import land_system_usage
from pipelines.cli import main
from pipelines.config import PipelineConfig, SystemUsageSource, load_config
from pipelines.errors import ConcurrentCommit
from pipelines.runner import run_pipeline
from pipelines.silver.system_usage import to_usage
from pipelines.storage import Replace, TableStore, open_store
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.storage.lease import warehouse_lease
from pipelines.tables import INGEST_LOG, SYSTEM_USAGE
from tests.conftest import system_record, write_config, write_system_export
from tests.test_crash_safety import snapshot, write_stage_two
from tests.test_system_pipeline import write_stage_one

CLI = [sys.executable, "-m", "pipelines.cli"]


def _one_run_at_a_time(spark: SparkSession, config: PipelineConfig, reference: Path) -> dict[str, list[str]]:
    """The tables single runs build from the same deliveries, in a reference warehouse of their own."""
    single = with_changes(config, warehouse=str(reference))
    store = open_store(spark, single)
    run_pipeline(spark, single, store)
    return snapshot(store)


def _two_cli_runs_at_once(config_path: Path) -> list[subprocess.CompletedProcess[str]]:
    def run(_: int) -> subprocess.CompletedProcess[str]:
        # Wait for the other run however slow this machine is (a fresh JVM each, delta-spark slower still).
        command = [
            *CLI,
            "run",
            "--config",
            str(config_path),
            "--log-format",
            "json",
            "--set",
            "lease_wait_seconds=1800",
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run, range(2)))


def test_two_runs_started_at_once_build_what_one_run_builds(spark: SparkSession, tmp_path: Path, backend: str) -> None:
    config = write_stage_one(spark, tmp_path, backend)
    for stage in ("fresh warehouse", "existing warehouse"):
        if stage == "existing warehouse":
            write_stage_two(spark, config, tmp_path)
        results = _two_cli_runs_at_once(Path(config.source_file))
        assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
        assert any("waiting up to" in r.stderr for r in results), "the second run did not wait for the first"
        store = open_store(spark, config)
        assert snapshot(store) == _one_run_at_a_time(spark, config, tmp_path / "reference"), stage
        ids = store.read(SYSTEM_USAGE).select("record_id")
        assert ids.count() == ids.distinct().count()


def test_without_the_lease_concurrent_runs_commit_nothing_twice(
    spark: SparkSession, tmp_path: Path, backend: str
) -> None:
    """The lease bypassed: two pipelines in one process at once, each with its own store, on one warehouse.

    Each run either skips what the other committed first or stops with `ConcurrentCommit` (exit 4 from the
    CLI); a run after them converges on the tables one run builds, with no row twice.
    """
    config = write_stage_one(spark, tmp_path, backend)
    for stage in ("fresh warehouse", "existing warehouse"):
        if stage == "existing warehouse":
            write_stage_two(spark, config, tmp_path)
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(pool.map(lambda _: _run_or_stop(spark, config), range(2)))
        assert "done" in outcomes, outcomes  # at least one of them always finishes
        if "stopped" in outcomes:
            run_pipeline(spark, config)  # the next run carries on from what both committed
        store = open_store(spark, config)
        assert snapshot(store) == _one_run_at_a_time(spark, config, tmp_path / "reference"), stage
        ids = store.read(SYSTEM_USAGE).select("record_id")
        assert ids.count() == ids.distinct().count()


def _run_or_stop(spark: SparkSession, config: PipelineConfig) -> str:
    """One run with a store of its own: `done`, or `stopped` by another run's concurrent commit."""
    try:
        run_pipeline(spark, config, open_store(spark, config))
    except ConcurrentCommit:
        return "stopped"
    return "done"


def _store_at(spark: SparkSession, warehouse: Path, backend: str) -> TableStore:
    """A store of the given backend on a warehouse folder, opened as the pipeline opens it."""
    return open_store(spark, load_config(write_config_only(warehouse, backend), [f"warehouse={warehouse}"]))


def test_a_write_planned_before_another_run_committed_is_skipped(
    spark: SparkSession, tmp_path: Path, backend: str
) -> None:
    first, second = _store_at(spark, tmp_path, backend), _store_at(spark, tmp_path, backend)
    rows = [("run", "legacy_csv", "d", "p", 1, None, "sha", "landed", 1, 1, 0, None, 0, None, None, None, None)]
    first.append_rows(INGEST_LOG, rows, {})
    for store in (first, second):
        store.begin()
        store.read(INGEST_LOG)  # both plan from version 0
    assert first.append_rows(INGEST_LOG, rows, {}) == 1
    assert second.append_rows(INGEST_LOG, rows, {}) == 1  # skipped: the table already holds its transaction
    assert second.write(INGEST_LOG, first.read(INGEST_LOG), Replace.nothing(), {}) == 1
    assert len(_store_at(spark, tmp_path, backend).read_rows(INGEST_LOG)) == 2
    second.begin()  # a new unit of work plans from version 1 and writes
    second.read(INGEST_LOG)
    assert second.append_rows(INGEST_LOG, rows, {}) == 2
    data_files = {p.name for p in (tmp_path / "bronze" / "ingest_log").glob("*.parquet")}
    assert len(data_files) == 3, "the skipped write left a data file behind"


def test_a_record_bronze_holds_twice_counts_once_in_silver(spark: SparkSession, tmp_path: Path) -> None:
    export = write_system_export(
        spark, tmp_path / "exports", "day=1", [system_record("a", "2"), system_record("b", "3")]
    )
    store = DeltaRsStore(spark, str(tmp_path / "warehouse"))
    land_system_usage(spark, store, SystemUsageSource(path=str(export), format="parquet"), Run())
    bronze = store.read(SYSTEM_USAGE)
    once = to_usage(bronze).select("record_id", "usage_quantity")
    twice = to_usage(bronze.unionByName(bronze.where("record_id = 'b'"))).select("record_id", "usage_quantity")
    assert_df_equality(twice, once, ignore_row_order=True, ignore_nullable=True)


def test_a_second_run_waits_for_the_lease_then_exits_4_with_one_line(tmp_path: Path, capsys) -> None:
    config = write_config_only(tmp_path)
    with warehouse_lease(load_config(config).warehouse, 0, "a test holding the warehouse"):
        started = time.monotonic()
        code = main(["run", "--config", str(config), "--set", "lease_wait_seconds=1", "--log-format", "text"])
        waited = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 4
    assert 1 <= waited < 30
    final = [line for line in err.splitlines() if line.startswith("billing-lakehouse:")]
    assert len(final) == 1 and "a test holding the warehouse" in final[0] and "lease_wait_seconds" in final[0], err


def test_a_lease_left_by_a_killed_run_is_free_at_once(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pipelines.storage.lease import warehouse_lease\n"
            "with warehouse_lease(sys.argv[1], 0, 'doomed'):\n    print('held', flush=True); time.sleep(600)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(Exception, match="in use by run doomed"), warehouse_lease(str(tmp_path), 0, "second"):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with warehouse_lease(str(tmp_path), 0, "after the kill"):
        pass


def write_config_only(tmp: Path, storage: str = "delta-rs") -> Path:
    """A config whose one source exists but is empty (nothing to land)."""
    (tmp / "legacy").mkdir(exist_ok=True)
    return write_config(tmp, tmp / "legacy", None, storage=storage)
