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


# How the reason of a file refused before it was read begins (unreadable, or a record too long).
REFUSALS = ("unreadable", "record ")


@dataclass(frozen=True)
class Digest:
    """A file's sha256, or why it cannot be landed (unreadable, or a record longer than allowed)."""

    sha256: str | None
    problem: str | None = None


@dataclass(frozen=True)
class RecordLimit:
    """The longest record a file may hold. `quoted`: CSV records, where a line break inside quotes does not
    end the record; otherwise every line is a record (JSON lines)."""

    max_bytes: int
    quoted: bool = True


class RecordScan:
    """The longest record of a file read in chunks, so that no record is ever held whole in memory.

    A CSV line break ends a record only outside quotes: `""` escapes keep the quote count's parity,
    so a line with an odd number of `"` opens or closes a quoted field.
    """

    def __init__(self, limit: RecordLimit) -> None:
        self.limit = limit
        self.records = 0
        self.current = 0
        self.in_quotes = False
        self.too_long: tuple[int, int] | None = None  # (record number, its length)

    def feed(self, chunk: bytes) -> None:
        pieces = chunk.split(b"\n")
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            self.current += len(piece)
            if self.limit.quoted and piece.count(b'"') % 2:
                self.in_quotes = not self.in_quotes
            if index < last:
                if self.in_quotes:
                    self.current += 1
                else:
                    self._end_record()

    def _end_record(self) -> None:
        self.records += 1
        if self.too_long is None and self.current > self.limit.max_bytes:
            self.too_long = (self.records, self.current)
        self.current = 0

    def problem(self) -> str | None:
        if self.current:
            self._end_record()
        if self.too_long is None:
            return None
        number, length = self.too_long
        return (
            f"record {number:,} (counting the header) is {length:,} bytes, longer than max_record_bytes"
            f" ({self.limit.max_bytes:,}): the file is not read"
        )


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


def location_exists(spark: SparkSession, location: str) -> bool:
    """True when a file or folder exists at `location` (any file system Spark can reach)."""
    path, fs = _file_system(spark, location)
    return bool(fs.exists(path))


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


def _local_digest(path: str, limit: RecordLimit | None) -> Digest:
    digest = hashlib.sha256()
    scan = None if limit is None else RecordScan(limit)
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)  # hashlib releases the GIL on large buffers: threads hash in parallel
                if scan is not None:
                    scan.feed(chunk)
    except OSError as error:
        return Digest(None, f"unreadable: {error.strerror or error}")
    return Digest(digest.hexdigest(), None if scan is None else scan.problem())


def check_files(
    spark: SparkSession, files: Sequence[DeliveredFile], limit: RecordLimit | None = None
) -> dict[str, Digest]:
    """Per file path: its sha256, or why it cannot be landed. Local files are read by the driver in a few
    threads (and their records measured against `limit`); others by Spark executors (sha256 only)."""
    digests = {f.path: Digest(EMPTY_SHA256) for f in files if f.size == 0}
    local = {f.path: path for f in files if f.size > 0 and (path := _local_path(f.path)) is not None}
    if local:
        with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
            checked = pool.map(lambda path: _local_digest(path, limit), local.values())
            digests.update(zip(local, checked, strict=True))
    remote = [f for f in files if f.size > 0 and f.path not in local]
    if remote:
        digests.update(_executor_sha256(spark, remote))
    return digests


def sha256_of(spark: SparkSession, files: Sequence[DeliveredFile]) -> dict[str, str]:
    """sha256 hex digest per file path; a file that cannot be read is an error."""
    digests = check_files(spark, files)
    for path, digest in digests.items():
        if digest.sha256 is None:
            raise SourceMissing(f"could not read {path}: {digest.problem}")
    return {path: digest.sha256 for path, digest in digests.items() if digest.sha256 is not None}


def _executor_sha256(spark: SparkSession, files: Sequence[DeliveredFile]) -> dict[str, Digest]:
    """sha256 hex digest per file path, computed by executors."""
    by_path = {normalised_path(unquote(f.path)): f.path for f in files}
    rows = (
        spark.read.format("binaryFile")
        .load([f.path for f in files])
        .select("path", F.sha2("content", 256).alias("sha256"))
        .collect()
    )
    digests = {by_path.get(normalised_path(unquote(row.path)), row.path): Digest(row.sha256) for row in rows}
    for file in files:
        digests.setdefault(file.path, Digest(None, "unreadable: the file system returned no content"))
    return digests
