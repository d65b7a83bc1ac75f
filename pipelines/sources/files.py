"""List delivered files and read their first line and checksum, locally or on s3:// alike.

Listing goes through Spark's Hadoop file system, so a cluster with S3 access reads S3 prefixes
the same way a laptop reads a folder. Checksums of local files are read by the driver in a few
threads (a Spark job would cost more than the hashing); checksums of remote files are computed by
Spark executors. Either way only (path, sha256) pairs reach the driver.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.columns import normalised_path
from pipelines.errors import SourceMissing

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
HASH_THREADS = 4
HASH_CHUNK = 4 * 1024 * 1024


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


def _local_path(path: str) -> str | None:
    """The local file system path of a listed `file:` path, or None for any other file system."""
    scheme = urlparse(path).scheme
    if scheme == "file":
        return normalised_path(path)
    return path if scheme == "" else None


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)  # hashlib releases the GIL on large buffers: threads hash in parallel
    except OSError as error:
        raise SourceMissing(f"could not read {path}: {error.strerror or error}") from error
    return digest.hexdigest()


def sha256_of(spark: SparkSession, files: Sequence[DeliveredFile]) -> dict[str, str]:
    """sha256 hex digest per file path: local files read by the driver, others by Spark executors."""
    digests = {f.path: EMPTY_SHA256 for f in files if f.size == 0}
    local = {f.path: path for f in files if f.size > 0 and (path := _local_path(f.path)) is not None}
    if local:
        with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
            digests.update(zip(local, pool.map(_file_sha256, local.values()), strict=True))
    remote = [f for f in files if f.size > 0 and f.path not in local]
    if remote:
        digests.update(_executor_sha256(spark, remote))
    return digests


def _executor_sha256(spark: SparkSession, files: Sequence[DeliveredFile]) -> dict[str, str]:
    """sha256 hex digest per file path, computed by executors."""
    by_path = {normalised_path(unquote(f.path)): f.path for f in files}
    rows = (
        spark.read.format("binaryFile")
        .load([f.path for f in files])
        .select("path", F.sha2("content", 256).alias("sha256"))
        .collect()
    )
    digests = {by_path.get(normalised_path(unquote(row.path)), row.path): row.sha256 for row in rows}
    missing = [f.path for f in files if f.path not in digests]
    if missing:
        raise SourceMissing(f"could not read {len(missing)} file(s), for example {missing[0]}")
    return digests
