"""The root cause of a failure in one line, from real Java exceptions raised through py4j."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from pipelines.failures import Cause, describe_failure, failure_causes, root_cause


def _raised_by_java(spark: SparkSession, throwable: Any) -> BaseException:
    """The Py4JJavaError the JVM raises for `throwable` (wrapped in an ExecutionException, as a future would)."""
    future = spark.sparkContext._jvm.java.util.concurrent.CompletableFuture.failedFuture(throwable)  # type: ignore[union-attr]
    with pytest.raises(Py4JJavaError) as raised:
        future.get()
    return raised.value


def test_an_s3_path_without_an_s3_file_system_names_the_scheme_and_what_to_configure(spark: SparkSession) -> None:
    with pytest.raises(Exception) as raised:
        spark.read.text("s3://bucket/x").count()
    assert "An error occurred while calling" in str(raised.value)  # what py4j says, and all it says

    line = root_cause(raised.value)
    assert line.startswith("no file system for scheme s3: ")
    assert "storage: delta-spark" in line and "spark.hadoop.fs.s3.impl" in line and "\n" not in line


def test_a_full_disk_names_the_path_being_written(spark: SparkSession) -> None:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    with pytest.raises(Py4JJavaError) as full:
        jvm.java.io.FileOutputStream("/dev/full").write(b"x")  # a real ENOSPC from the JVM
    assert root_cause(full.value) == "no space left on device"

    task = jvm.org.apache.spark.SparkException(
        "[TASK_WRITE_FAILED] Task failed while writing rows to file:/data/warehouse/silver/usage.",
        full.value.java_exception,
    )
    error = _raised_by_java(spark, task)
    assert [cause.name for cause in failure_causes(error)] == [
        "java.util.concurrent.ExecutionException",
        "org.apache.spark.SparkException",
        "java.io.IOException",
    ]
    assert root_cause(error) == (
        "no space left on device at file:/data/warehouse/silver/usage: free space there or move the warehouse"
    )


def test_an_unreadable_folder_names_the_folder(spark: SparkSession) -> None:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    denied = jvm.java.nio.file.AccessDeniedException("/data/landing/csv")  # what Files.newDirectoryStream throws
    listing = jvm.java.io.UncheckedIOException("listing the delivered files failed", denied)
    assert root_cause(_raised_by_java(spark, listing)) == (
        "permission denied on /data/landing/csv: the user running billing-lakehouse needs access to it"
    )


def test_a_python_cause_chain_is_followed_to_its_root(tmp_path: Path) -> None:
    lease = tmp_path / "warehouse" / "_lease"
    try:
        try:
            raise PermissionError(13, "Permission denied", str(lease))
        except PermissionError as error:
            raise RuntimeError("could not take the warehouse lease") from error
    except RuntimeError as error:
        line = root_cause(error)
    assert line == f"permission denied on {lease}: the user running billing-lakehouse needs access to it"


def test_an_unknown_failure_shows_the_root_causes_class_and_first_line(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(Exception) as raised:
        spark.read.parquet(str(tmp_path / "missing")).count()
    line = root_cause(raised.value)
    assert line.startswith("AnalysisException: [PATH_NOT_FOUND] Path does not exist: ") and "\n" not in line


@pytest.mark.parametrize(
    ("causes", "line"),
    [
        (
            [Cause("java.io.FileNotFoundException", "/data/csv/a.csv (Permission denied)")],
            "permission denied on /data/csv/a.csv: the user running billing-lakehouse needs access to it",
        ),
        (
            [Cause("DeltaError", "Generic LocalFileSystem error: No space left on device (os error 28)")],
            "no space left on device",
        ),
        (
            [Cause("org.apache.hadoop.fs.UnsupportedFileSystemException", 'No FileSystem for scheme "gs"')],
            "no file system for scheme gs: this Spark cannot read gs:// paths; run on a cluster that has the gs"
            " connector, or add it to Spark's classpath and set spark.hadoop.fs.gs.impl",
        ),
        (
            [
                Cause("org.apache.spark.SparkException", "Job aborted"),
                Cause("org.apache.spark.sql.AnalysisException", "[PERMISSION_DENIED] User lacks SELECT on main.b.t"),
            ],
            "permission denied: AnalysisException: [PERMISSION_DENIED] User lacks SELECT on main.b.t",
        ),
        ([Cause("KeyError", "'usage_date'")], "KeyError: 'usage_date'"),
        ([Cause("java.lang.OutOfMemoryError", "")], "OutOfMemoryError"),
    ],
)
def test_known_failures_are_put_in_plain_words(causes: list[Cause], line: str) -> None:
    assert describe_failure(causes) == line
