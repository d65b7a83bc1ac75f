"""The delta-rs backend: Spark-written files committed by deltalake as standard Delta tables."""

from __future__ import annotations

import shutil
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from pipelines.errors import StorageError
from pipelines.spark import LOCAL_FS_CLASS, LOCAL_FS_JAR
from pipelines.storage import Replace
from pipelines.storage.base import partition_filter
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import QUARANTINE

ROW = "source string, delivery string, source_file string, raw_record string, reason string"


def _rows(spark: SparkSession, rows: list[tuple[str, str, str]]) -> DataFrame:
    data = spark.createDataFrame([(s, d, "f", raw, "r") for s, d, raw in rows], ROW)
    return data.selectExpr("*", "cast(null as string) as _source_sha256", "current_timestamp() as _ingested_at")


def test_replace_partitions_in_one_commit_with_metadata(spark: SparkSession, tmp_path: Path) -> None:
    store = DeltaRsStore(spark, str(tmp_path))
    first = _rows(spark, [("a", "d=1/x", "1"), ("a", "d=1/x", "2"), ("a", "two", "3"), ("b", "two", "4")])
    assert store.write(QUARANTINE, first, Replace.nothing(), {"changed": {"everything": True}}) == 0

    replaced = store.write(
        QUARANTINE, _rows(spark, [("a", "d=1/x", "5")]), Replace.where([{"source": "a", "delivery": "d=1/x"}]), {"n": 1}
    )

    assert replaced == 1
    kept = spark.createDataFrame([("3",), ("4",), ("5",)], "raw_record string")
    assert_df_equality(store.read(QUARANTINE).select("raw_record"), kept, ignore_row_order=True, ignore_nullable=True)
    replacement = spark.createDataFrame([("5",)], "raw_record string")
    one_partition = store.read(QUARANTINE, [{"delivery": "d=1/x"}]).select("raw_record")
    assert_df_equality(one_partition, replacement, ignore_row_order=True, ignore_nullable=True)
    assert [(c.version, c.metadata["n"]) for c in store.history(QUARANTINE, 0) or []] == [(1, 1)]
    assert store.last_commit(QUARANTINE) is not None
    assert store.row_count(QUARANTINE) == 3
    assert {p["delivery"] for p in store.partition_values(QUARANTINE)} == {"d=1/x", "two"}
    other_reader = DeltaTable(store.location(QUARANTINE)).to_pyarrow_table()
    assert sorted(other_reader.column("raw_record").to_pylist()) == ["3", "4", "5"]
    assert sorted(set(other_reader.column("delivery").to_pylist())) == ["d=1/x", "two"]


def test_replacing_by_a_column_that_is_not_a_partition_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    store = DeltaRsStore(spark, str(tmp_path))
    store.write(QUARANTINE, _rows(spark, [("a", "x", "1")]), Replace.nothing(), {})
    with pytest.raises(StorageError, match="not partitioned by"):
        store.write(QUARANTINE, _rows(spark, [("a", "x", "2")]), Replace.where([{"reason": "r"}]), {})
    assert store.row_count(QUARANTINE) == 1


def test_local_sessions_set_file_permissions_in_process(spark: SparkSession, tmp_path: Path) -> None:
    if shutil.which("javac") is None:
        pytest.skip("no javac to build the local file system jar: Hadoop's default one is used")
    assert LOCAL_FS_JAR.is_file(), "`make local-fs` builds it (make test and make demo do)"
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    assert jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), hadoop).getClass().getName() == (
        LOCAL_FS_CLASS
    )
    spark.range(4).selectExpr("id", "id % 2 as part").write.partitionBy("part").parquet(str(tmp_path / "t"))
    # The modes Hadoop's own chmod gives: its default umask 022 on directories and files.
    for directory in (tmp_path / "t", tmp_path / "t" / "part=0", tmp_path / "t" / "part=1"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755, directory
    for data in (tmp_path / "t").glob("part=*/*.parquet"):
        assert stat.S_IMODE(data.stat().st_mode) == 0o644, data


def _nesting(column: object) -> int:
    """How deeply a predicate's parentheses nest, as Spark prints it (a chain of N ORs nests N deep)."""
    depth = deepest = 0
    for character in str(column):
        depth += {"(": 1, ")": -1}.get(character, 0)
        deepest = max(deepest, depth)
    return deepest


def test_a_partition_filter_of_many_partitions_stays_shallow_and_selects_exactly_them(spark: SparkSession) -> None:
    days = [(date(2024, 1, 1) + timedelta(days=n)).isoformat() for n in range(400)]
    one_column = [{"usage_date": day} for day in days]
    two_columns = [{"usage_date": day, "source": "a" if n % 2 else "b"} for n, day in enumerate(days)]
    rows = [(day, source) for day in days for source in ("a", "b")]
    data = spark.createDataFrame(rows, "usage_date string, source string")
    assert data.where(partition_filter(one_column)).count() == 800
    assert data.where(partition_filter(two_columns)).count() == 400
    assert data.where(partition_filter(two_columns[:3])).count() == 3
    assert data.where(partition_filter([])).count() == 0
    # Spark Connect refuses expressions nested deeper than about 100: one OR per partition nested 400 deep.
    assert _nesting(partition_filter(one_column)) < 10
    assert _nesting(partition_filter(two_columns)) < 30
