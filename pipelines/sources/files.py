"""List delivered files and read their first line and checksum, locally or on s3:// alike.

Everything goes through Spark's Hadoop file system, so a cluster with S3 access reads S3 prefixes
the same way a laptop reads a folder. Checksums are computed by Spark executors; only the
(path, sha256) pairs come back to the driver.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.columns import normalised_path
from pipelines.errors import SourceMissing

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class DeliveredFile:
    """A file as the file system lists it."""

    path: str
    name: str
    size: int
    modified_ms: int


def _jvm(spark: SparkSession) -> Any:
    jvm = spark._jvm
    assert jvm is not None, "needs a classic (non-Connect) SparkSession"
    return jvm


def _file_system(spark: SparkSession, path: str) -> tuple[Any, Any]:
    hadoop_path = _jvm(spark).org.apache.hadoop.fs.Path(path)
    return hadoop_path, hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration())


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def list_files(spark: SparkSession, location: str, recursive: bool = False) -> list[DeliveredFile]:
    """Files under `location` (or the file itself), skipping hidden and `_`-prefixed names.

    With `recursive`, files in sub-folders too (an export written by Spark is a folder of part
    files); hidden and `_`-prefixed folders are skipped as well.
    """
    path, fs = _file_system(spark, location)
    if not fs.exists(path):
        raise SourceMissing(f"source location does not exist: {location}")
    files, folders = [], [path]
    while folders:
        for status in fs.listStatus(folders.pop()):
            name = status.getPath().getName()
            if _hidden(name):
                continue
            if status.isDirectory():
                if recursive:
                    folders.append(status.getPath())
                continue
            files.append(
                DeliveredFile(status.getPath().toString(), name, status.getLen(), status.getModificationTime())
            )
    return sorted(files, key=lambda f: f.path)


def relative_name(location: str, file: DeliveredFile) -> str:
    """A file's path relative to the listed location (its name when listed directly)."""
    root = location.rstrip("/")
    for prefix in (root, "file:" + root, "file://" + root):
        if file.path.startswith(prefix + "/"):
            return unquote(file.path[len(prefix) + 1 :])
    return file.name


def first_line(spark: SparkSession, location: str) -> str | None:
    """The first line of a text file (without a byte-order mark), or None for an empty file."""
    jvm = _jvm(spark)
    path, fs = _file_system(spark, location)
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(fs.open(path), "UTF-8"))
    try:
        line = reader.readLine()
    finally:
        reader.close()
    return None if line is None else str(line).lstrip("\ufeff").rstrip("\r")


def sha256_of(spark: SparkSession, files: Sequence[DeliveredFile]) -> dict[str, str]:
    """sha256 hex digest per file path, computed by executors."""
    digests = {f.path: EMPTY_SHA256 for f in files if f.size == 0}
    files = [f for f in files if f.size > 0]
    if not files:
        return digests
    by_path = {normalised_path(unquote(f.path)): f.path for f in files}
    rows = (
        spark.read.format("binaryFile")
        .load([f.path for f in files])
        .select("path", F.sha2("content", 256).alias("sha256"))
        .collect()
    )
    for row in rows:
        digests[by_path.get(normalised_path(unquote(row.path)), row.path)] = row.sha256
    missing = [f.path for f in files if f.path not in digests]
    if missing:
        raise SourceMissing(f"could not read {len(missing)} file(s), for example {missing[0]}")
    return digests
