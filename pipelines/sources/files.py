"""List delivered files and read their first line and checksum, locally or on s3:// alike.

Nothing goes through the JVM: a Spark Connect session (Databricks serverless, standard access mode; no JVM
in this process) lists and hashes files as a laptop does. Spark lists a location with the `binaryFile`
source's path, length and modification time, never its content; a classic session's local folders are
listed by this process instead, with the same paths, sizes and times (cheaper: it runs on every run).
Checksums of files the driver can read itself (a classic session's local files, or a Connect server's
local files when this process sees the same size and modification time) are read in a few threads, which
also measure their records (a Spark job would cost more than the hashing); the checksums of other files
are computed by Spark executors (`sha2` over `binaryFile` content, at most 2 GiB a file). Either way only
(path, sha256) pairs reach the driver.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.columns import normalised_path
from pipelines.errors import SourceMissing
from pipelines.spark import is_connect

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
HASH_THREADS = 4
HASH_CHUNK = 4 * 1024 * 1024
# The longest file the binaryFile source reads (spark.sql.sources.binaryFile.maxLength's default, Int.MaxValue).
SPARK_MAX_FILE_BYTES = 2**31 - 1
# How Spark says a listed location does not exist.
MISSING_PATH = "PATH_NOT_FOUND"


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


def _binary_files(spark: SparkSession, location: str | list[str]) -> DataFrame:
    """The binaryFile source over `location`, every file below it, without partition columns."""
    return spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(location)


def _missing_path(error: Exception) -> bool:
    condition = getattr(error, "getCondition", lambda: None)()
    return condition == MISSING_PATH or (condition is None and MISSING_PATH in str(error))


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def location_exists(spark: SparkSession, location: str) -> bool:
    """True when a file or folder exists at `location` (any file system Spark can reach)."""
    local = _local_folder(spark, location)
    if local is not None:
        return os.path.exists(local)
    try:
        _binary_files(spark, location).schema  # noqa: B018  (a Connect session analyses the read only when asked)
    except Exception as error:
        if _missing_path(error):
            return False
        raise
    return True


def _local_folder(spark: SparkSession, location: str) -> str | None:
    """Where a classic session's driver (this process) finds a local `location`; None for Spark to list it."""
    local = _local_path(location)
    return None if local is None or is_connect(spark) else os.path.abspath(local)


def _below(location: str, path: str) -> str | None:
    """`path` relative to the folder `location`, or None when it is not below it (the location is the file)."""
    if not urlparse(location).scheme:
        location = os.path.abspath(location)
    root = normalised_path(unquote(location)).rstrip("/")
    listed = normalised_path(unquote(path))
    return listed[len(root) + 1 :] if listed.startswith(root + "/") else None


def list_files(spark: SparkSession, location: str, recursive: bool = False) -> list[DeliveredFile]:
    """Files under `location` (or the file itself), skipping hidden and `_`-prefixed names.

    With `recursive`, files in sub-folders too (an export written by Spark is a folder of part
    files); hidden and `_`-prefixed folders are skipped as well. A classic session's local folder is
    listed by this process (a Spark job costs about a second, and the listing runs on every run); any
    other location by Spark, with the same paths (`file:/x/y` as Hadoop writes them), sizes and times.
    """
    local = _local_folder(spark, location)
    listed = _listed_here(local, recursive) if local is not None else _listed_by_spark(spark, location)
    return _delivered(location, listed, recursive)


def _delivered(location: str, listed: list[tuple[str, int, int]], recursive: bool) -> list[DeliveredFile]:
    """The listed (path, size, modified_ms) below `location` that are deliveries, sorted by path."""
    files = []
    for path, size, modified_ms in listed:
        relative = _below(location, path)
        parts = relative.split("/") if relative is not None else [path.rstrip("/").rsplit("/", 1)[-1]]
        if any(_hidden(part) for part in parts) or (len(parts) > 1 and not recursive):
            continue
        files.append(DeliveredFile(path, parts[-1], size, modified_ms))
    return sorted(files, key=lambda f: f.path)


def _listed_by_spark(spark: SparkSession, location: str) -> list[tuple[str, int, int]]:
    """(path, size, modification time in ms) of every file below `location`: binaryFile's metadata, no content.

    Spark reads no split of an empty file, so the binaryFile source gives it no row: the files the read
    covers (`inputFiles`) name them, with size 0 and modification time 0 (unknown; an empty file is never read).
    """
    try:
        files = _binary_files(spark, location)
        rows = files.select("path", "length", F.unix_millis("modificationTime").alias("modified_ms")).collect()
        covered = files.inputFiles()
    except Exception as error:
        if _missing_path(error):
            raise SourceMissing(f"source location does not exist: {location}") from error
        raise
    listed = {row.path: (row.path, int(row.length), int(row.modified_ms)) for row in rows}
    for uri in covered:
        path = _hadoop_path(uri)
        listed.setdefault(path, (path, 0, 0))
    return list(listed.values())


def _hadoop_path(uri: str) -> str:
    """A file URI as `inputFiles` gives it (`file:///a%20b`) the way Hadoop's Path prints it (`file:/a b`)."""
    parts = urlparse(uri)
    if parts.netloc:
        return f"{parts.scheme}://{parts.netloc}{unquote(parts.path)}"
    return f"{parts.scheme}:{unquote(parts.path)}" if parts.scheme else unquote(parts.path)


def _listed_here(local: str, recursive: bool) -> list[tuple[str, int, int]]:
    """The same for a local folder, read by this process; hidden folders (and, unless `recursive`, any
    sub-folder) are not entered."""
    if not os.path.exists(local):
        raise SourceMissing(f"source location does not exist: {local}")
    if not os.path.isdir(local):
        stat = os.stat(local)
        return [("file:" + local, stat.st_size, stat.st_mtime_ns // 1_000_000)]
    listed = []
    for folder, subfolders, names in os.walk(local):
        subfolders[:] = [name for name in subfolders if recursive and not _hidden(name)]
        for name in names:
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError:  # gone since the folder was read, or a broken link
                continue
            listed.append(("file:" + path, stat.st_size, stat.st_mtime_ns // 1_000_000))
    return listed


def relative_name(location: str, file: DeliveredFile) -> str:
    """A file's path relative to the listed location (its name when listed directly)."""
    root = location.rstrip("/")
    for prefix in (root, "file:" + root, "file://" + root):
        if file.path.startswith(prefix + "/"):
            return unquote(file.path[len(prefix) + 1 :])
    return file.name


def _local_path(path: str) -> str | None:
    """The local file system path of a listed `file:` path, or None for any other file system."""
    scheme = urlparse(path).scheme
    if scheme == "file":
        return normalised_path(path)
    return path if scheme == "" else None


def _driver_path(spark: SparkSession, file: DeliveredFile | str) -> str | None:
    """The path this process can read `file` at itself, or None when only Spark can read it.

    A classic session's driver is this process, so its local files are ours. A Spark Connect server may run
    elsewhere: its local file is ours only when this process sees it with the listed size and modification time.
    """
    local = _local_path(file if isinstance(file, str) else file.path)
    if local is None or not is_connect(spark):
        return local
    if isinstance(file, str):
        return None
    try:
        seen = os.stat(local)
    except OSError:
        return None
    return local if (seen.st_size, seen.st_mtime_ns // 1_000_000) == (file.size, file.modified_ms) else None


def first_line(spark: SparkSession, file: DeliveredFile | str) -> str | None:
    """The first line of a text file (without a byte-order mark), or None for an empty file."""
    local = _driver_path(spark, file)
    if local is not None:
        with open(local, "rb") as fh:
            raw = fh.readline()
        if not raw:
            return None
        line = raw.split(b"\n", 1)[0].split(b"\r", 1)[0].decode("utf-8", errors="replace")
    else:
        spark_line = _first_line_by_spark(spark, file if isinstance(file, str) else file.path)
        if spark_line is None:
            return None
        line = spark_line
    return line.lstrip("\ufeff").rstrip("\r")


def _first_line_by_spark(spark: SparkSession, path: str) -> str | None:
    """The first line as Spark's text source reads it (a line ends at \n, \r or \r\n, as Java's readLine)."""
    rows = spark.read.text(path).limit(1).collect()
    return rows[0].value if rows else None


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
    """Per file path: its sha256, or why it cannot be landed. Files this process can read are read in a few
    threads (and their records measured against `limit`); others by Spark executors (sha256 only)."""
    digests = {f.path: Digest(EMPTY_SHA256) for f in files if f.size == 0}
    local = {f.path: path for f in files if f.size > 0 and (path := _driver_path(spark, f)) is not None}
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
    """sha256 hex digest per file path, computed by executors: only (path, sha256) pairs come back.

    A file that cannot be read (permission denied, deleted since it was listed) yields no row and is refused
    as unreadable, as is one longer than the binaryFile source reads, while the other files go on.
    """
    too_long = {
        f.path: Digest(
            None, f"unreadable: {f.size:,} bytes, longer than Spark reads a file whole ({SPARK_MAX_FILE_BYTES:,})"
        )
        for f in files
        if f.size > SPARK_MAX_FILE_BYTES
    }
    readable = [f for f in files if f.path not in too_long]
    by_path = {normalised_path(unquote(f.path)): f.path for f in readable}
    rows = []
    if readable:
        rows = (
            spark.read.format("binaryFile")
            .option("ignoreCorruptFiles", "true")
            .option("ignoreMissingFiles", "true")
            .load([f.path for f in readable])
            .select("path", F.sha2("content", 256).alias("sha256"))
            .collect()
        )
    digests = {by_path.get(normalised_path(unquote(row.path)), row.path): Digest(row.sha256) for row in rows}
    digests.update(too_long)
    for file in files:
        digests.setdefault(file.path, Digest(None, "unreadable: the file system returned no content"))
    return digests
