"""delta-rs backend: Spark writes the Parquet files, the `deltalake` package commits them.

This is the local default: it needs no Delta jars on the JVM. Spark writes a DataFrame in parallel
into a staging folder inside the table directory; the files are moved to their Hive-style
partition folders and committed, together with the remove actions of the partitions they replace,
as one Delta transaction. The driver only handles file paths and Parquet footers, never rows.
Reads go through the current snapshot's file list. Works on a local (or mounted) file system.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    RemoveAction,
    Transaction,
    create_table_with_add_actions,
)
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import to_arrow_schema

from pipelines.errors import ConcurrentCommit, StorageError
from pipelines.storage import is_local_warehouse
from pipelines.storage.arrow import contract_schema
from pipelines.storage.base import (
    TRANSACTION_APP,
    Commit,
    Partitions,
    Replace,
    TableStore,
    decode_metadata,
    encode_metadata,
)
from pipelines.tables import TableSpec

log = logging.getLogger(__name__)

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
STAGING = "_staging"
# Held (flock) while a table's first version is written: delta-rs retries a create that lost the race to
# version 0 as version 1, so two runs creating one table at once would both land their rows.
CREATION_LOCK = "_creating.lock"


class TableCreatedMeanwhile(Exception):
    """Another writer created the table between this write's plan and its commit."""


@contextmanager
def _creating(root: str) -> Iterator[None]:
    """Hold the table's creation lock (a file system without locks: a warning, and no lock)."""
    os.makedirs(root, exist_ok=True)
    fd = os.open(os.path.join(root, CREATION_LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as error:
            log.warning("no creation lock on %s (%s)", root, error)
        yield
    finally:
        os.close(fd)  # releases the lock


def _nullable(data_type: pa.DataType) -> pa.DataType:
    """Arrow type with every nested field nullable (map keys stay required, as Arrow demands)."""
    if pa.types.is_struct(data_type):
        return pa.struct([pa.field(f.name, _nullable(f.type), nullable=True) for f in data_type])
    if pa.types.is_map(data_type):
        return pa.map_(data_type.key_type, pa.field("value", _nullable(data_type.item_type), nullable=True))
    if pa.types.is_list(data_type):
        return pa.list_(pa.field("element", _nullable(data_type.value_type), nullable=True))
    return data_type


def arrow_schema(table: TableSpec) -> pa.Schema:
    arrow = to_arrow_schema(table.schema(), timestamp_utc=True)
    return pa.schema([pa.field(f.name, _nullable(f.type), nullable=True) for f in arrow])


def delta_schema(table: TableSpec) -> DeltaSchema:
    return DeltaSchema.from_arrow(arrow_schema(table))


def _partition_values(relative_dir: str) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    if relative_dir in ("", "."):
        return values
    for segment in relative_dir.split(os.sep):
        column, _, escaped = segment.partition("=")
        value = unquote(escaped)
        values[column] = None if value == HIVE_NULL else value
    return values


def _matches(values: Mapping[str, Any], partitions: Partitions) -> bool:
    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return any(all(text(values.get(column)) == value for column, value in part.items()) for part in partitions)


class DeltaRsStore(TableStore):
    """Tables under `<warehouse>/<layer>/<name>` on a local file system."""

    def __init__(self, spark: SparkSession, warehouse: str) -> None:
        super().__init__(spark)
        self.warehouse = warehouse.removeprefix("file://")
        # Reads name every data file explicitly; list them on the driver instead of with a Spark job.
        spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")

    def location(self, table: TableSpec) -> str:
        return os.path.join(self.warehouse, table.layer, table.name)

    def _table(self, table: TableSpec) -> DeltaTable | None:
        path = self.location(table)
        if not DeltaTable.is_deltatable(path):
            self._observe(table, None)
            return None
        delta = DeltaTable(path)
        self._observe(table, delta.version())
        return delta

    def version(self, table: TableSpec) -> int | None:
        delta = self._table(table)
        return None if delta is None else delta.version()

    def _files(self, delta: DeltaTable, table: TableSpec) -> list[dict[str, Any]]:
        actions = pa.table(delta.get_add_actions(flatten=True))
        rows = []
        for row in actions.to_pylist():
            values = {column: row.get(f"partition.{column}") for column in table.partition_by}
            rows.append(
                {"path": unquote(row["path"]), "size": row["size_bytes"], "rows": row["num_records"], "values": values}
            )
        return rows

    def read(self, table: TableSpec, partitions: Partitions | None = None) -> DataFrame:
        delta = self._table(table)
        if delta is None:
            return self.empty(table)
        files = self._files(delta, table)
        if partitions is not None:
            files = [f for f in files if _matches(f["values"], partitions)]
        if not files:
            return self.empty(table)
        root = self.location(table)
        paths = [os.path.join(root, f["path"]) for f in files]
        return self.spark.read.schema(table.schema()).option("basePath", root).parquet(*paths)

    def read_rows(self, table: TableSpec) -> list[dict[str, Any]]:
        delta = self._table(table)
        return [] if delta is None else delta.to_pyarrow_table().to_pylist()

    def read_arrow(self, table: TableSpec, columns: Sequence[str] | None = None) -> pa.Table:
        return DeltaRsReader(self.warehouse).read_arrow(table, columns)

    def write(self, table: TableSpec, data: DataFrame, replace: Replace, metadata: Mapping[str, Any]) -> int:
        root = self.location(table)
        staging = os.path.join(root, STAGING, uuid.uuid4().hex)
        writer = self.conform(table, data).write.mode("overwrite")
        if table.partition_by:
            writer = writer.partitionBy(*table.partition_by)
        writer.parquet(staging)
        try:
            adds = self._move_into_table(staging, root)
            version = self._commit(table, adds, replace, metadata)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if version is None:  # another run committed first: these files belong to no version
            for add in adds:
                Path(root, add.path).unlink(missing_ok=True)
            return self._current_version(table)
        return version

    def append_rows(self, table: TableSpec, rows: Sequence[tuple[Any, ...]], metadata: Mapping[str, Any]) -> int:
        """A few driver-side rows go straight to `deltalake` (no Spark job); the first write creates the table."""
        delta = self._table(table)
        if delta is None or table.partition_by:
            return super().append_rows(table, rows, metadata)
        transaction = self.transaction_version(table, delta.version())
        if self._committed_elsewhere(table, delta, transaction):
            return delta.version()
        schema = arrow_schema(table)
        data = pa.Table.from_pylist([dict(zip(schema.names, row, strict=True)) for row in rows], schema=schema)
        try:
            # `merge` adds columns a newer contract appends (the ingest log gained its API window columns).
            write_deltalake(
                delta,
                data,
                mode="append",
                schema_mode="merge",
                commit_properties=self._properties(metadata, transaction),
            )
        except CommitFailedError as error:
            self._lost_race(table, transaction, error)
            return self._current_version(table)
        except Exception as error:  # deltalake raises several unrelated types
            raise StorageError(f"could not commit to {table}: {error}") from error
        version = self._current_version(table)
        self._committed(table, version)
        return version

    def _lost_race(self, table: TableSpec, transaction: int, error: Exception) -> None:
        """A commit that failed: skipped when the table now holds this write's application transaction (another
        run committed the same write first), else ConcurrentCommit (another writer; nothing of this write landed)."""
        delta = self._table(table)
        recorded = None if delta is None else delta.transaction_version(TRANSACTION_APP)
        if recorded is not None and recorded >= transaction:
            self._skip(table, error)
            return
        raise ConcurrentCommit(
            f"{table}: another writer committed while this run wrote it ({type(error).__name__}); nothing of this"
            " write was committed: run again"
        ) from error

    def _current_version(self, table: TableSpec) -> int:
        return DeltaTable(self.location(table)).version()

    @staticmethod
    def _properties(metadata: Mapping[str, Any], transaction: int) -> CommitProperties:
        return CommitProperties(
            custom_metadata={"userMetadata": encode_metadata(metadata)},
            app_transactions=[Transaction(TRANSACTION_APP, transaction)],
        )

    def _committed_elsewhere(self, table: TableSpec, delta: DeltaTable, transaction: int) -> bool:
        """True (and the write is skipped) when the table already holds this write's application transaction."""
        recorded = delta.transaction_version(TRANSACTION_APP)
        if recorded is None or recorded < transaction:
            return False
        self._skip(table, f"it already holds application transaction {recorded} (this write's is {transaction})")
        return True

    @staticmethod
    def _skip(table: TableSpec, why: object) -> None:
        log.warning("%s: another run committed since this run read it; this write is skipped: %s", table, why)

    def _move_into_table(self, staging: str, root: str) -> list[AddAction]:
        adds = []
        now = int(time.time() * 1000)
        for directory, _, names in os.walk(staging):
            for name in sorted(names):
                if not name.endswith(".parquet"):
                    continue
                relative = os.path.relpath(os.path.join(directory, name), staging)
                target = os.path.join(root, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(os.path.join(directory, name), target)
                rows = pq.read_metadata(target).num_rows
                adds.append(
                    AddAction(
                        path=relative.replace(os.sep, "/"),  # delta-rs URI-encodes it in the log
                        size=os.path.getsize(target),
                        partition_values=_partition_values(os.path.dirname(relative)),
                        modification_time=now,
                        data_change=True,
                        stats=json.dumps({"numRecords": rows}),
                    )
                )
        return adds

    def _commit(
        self, table: TableSpec, adds: list[AddAction], replace: Replace, metadata: Mapping[str, Any]
    ) -> int | None:
        """Commit the moved files (and remove what `replace` names); None when another run committed first."""
        delta = self._table(table)
        transaction = self.transaction_version(table, None if delta is None else delta.version())
        properties = self._properties(metadata, transaction)
        if delta is None:
            with _creating(self.location(table)):
                if not DeltaTable.is_deltatable(self.location(table)):
                    try:
                        create_table_with_add_actions(
                            self.location(table),
                            delta_schema(table),
                            adds,
                            mode="error",
                            partition_by=list(table.partition_by) or None,
                            commit_properties=properties,
                        )
                    except Exception as error:
                        raise StorageError(f"could not create {table}: {error}") from error
                    self._committed(table, 0)
                    return 0
            self._lost_race(table, transaction, TableCreatedMeanwhile(f"another writer created {table} first"))
            return None
        if self._committed_elsewhere(table, delta, transaction):
            return None
        if [f.name for f in delta.schema().fields] != [f.name for f in delta_schema(table).fields]:
            if not replace.everything:
                raise StorageError(f"{table} at {self.location(table)} does not have the columns of its contract")
            return self._replace_schema(table, delta, adds, properties, transaction)
        unknown = {c for part in replace.partitions or [] for c in part} - set(table.partition_by)
        if unknown:
            raise StorageError(f"{table} can only replace whole partitions; not partitioned by {sorted(unknown)}")
        removes: list[RemoveAction] = []
        if replace.everything or replace.partitions:
            now = int(time.time() * 1000)
            for f in self._files(delta, table):
                if replace.everything or _matches(f["values"], replace.partitions or []):
                    values = {k: None if v is None else str(v) for k, v in f["values"].items()}
                    removes.append(RemoveAction(f["path"], True, now, f["size"], values or None))
        try:
            delta.create_write_transaction(
                [*adds, *removes],
                mode="append",
                schema=delta.schema(),
                partition_by=list(table.partition_by) or None,
                commit_properties=properties,
            )
        except CommitFailedError as error:  # a concurrent commit
            self._lost_race(table, transaction, error)
            return None
        except Exception as error:  # deltalake raises several unrelated types
            raise StorageError(f"could not commit to {table}: {error}") from error
        version = self._current_version(table)
        self._committed(table, version)
        return version

    def _replace_schema(
        self, table: TableSpec, delta: DeltaTable, adds: list[AddAction], properties: CommitProperties, transaction: int
    ) -> int | None:
        """Replace every row and the schema with the contract's, in one commit (a contract that gained columns).

        An overwrite commits the new schema (a metaData action, columns in the contract's order) and removes
        every current file itself; an append would keep the old schema whatever the new files hold.
        """
        actions: list[AddAction | RemoveAction] = [*adds]
        try:
            delta.create_write_transaction(
                actions,
                mode="overwrite",
                schema=delta_schema(table),
                partition_by=list(table.partition_by) or None,
                commit_properties=properties,
            )
        except CommitFailedError as error:
            self._lost_race(table, transaction, error)
            return None
        except Exception as error:  # deltalake raises several unrelated types
            raise StorageError(f"could not replace {table} with its contract's columns: {error}") from error
        log.info("%s: replaced every row and its columns with the contract's", table)
        version = self._current_version(table)
        self._committed(table, version)
        return version

    def _commits(self, table: TableSpec, limit: int | None) -> list[Commit]:
        delta = self._table(table)
        if delta is None:
            return []
        try:
            entries = delta.history(limit=limit)
        except Exception:  # an unreadable log: callers then rebuild from scratch
            return []
        commits = (Commit(int(e["version"]), decode_metadata(e.get("userMetadata"))) for e in entries)
        return sorted(commits, key=lambda c: c.version)

    def partition_values(self, table: TableSpec) -> list[dict[str, str | None]]:
        delta = self._table(table)
        if delta is None or not table.partition_by:
            return []
        return [dict(p) for p in delta.partitions()]

    def row_count(self, table: TableSpec) -> int:
        delta = self._table(table)
        if delta is None:
            return 0
        return sum(int(f["rows"] or 0) for f in self._files(delta, table))


class DeltaRsReader:
    """Read-only access to the tables under a local warehouse, without Spark (a `TableReader`).

    Versions and row counts come from the Delta log, rows from `deltalake`'s Arrow reader: the
    read-only commands (status, summary, report) answer without starting a JVM.
    """

    def __init__(self, warehouse: str) -> None:
        self.warehouse = warehouse.removeprefix("file://")

    def location(self, table: TableSpec) -> str:
        return os.path.join(self.warehouse, table.layer, table.name)

    def _table(self, table: TableSpec) -> DeltaTable | None:
        path = self.location(table)
        return DeltaTable(path) if DeltaTable.is_deltatable(path) else None

    def version(self, table: TableSpec) -> int | None:
        delta = self._table(table)
        return None if delta is None else delta.version()

    def row_count(self, table: TableSpec) -> int:
        delta = self._table(table)
        if delta is None:
            return 0
        return sum(n or 0 for n in pa.table(delta.get_add_actions(flatten=True))["num_records"].to_pylist())

    def read_arrow(self, table: TableSpec, columns: Sequence[str] | None = None) -> pa.Table:
        """The named columns (all by default); a column the stored table lacks (an older contract) reads as nulls."""
        contract = contract_schema(table)
        wanted = list(columns or contract.names)
        delta = self._table(table)
        if delta is None:
            return contract.empty_table().select(wanted)
        stored = {f.name for f in delta.schema().fields}
        data = delta.to_pyarrow_table(columns=[c for c in wanted if c in stored])
        for column in wanted:
            if column not in stored:
                data = data.append_column(contract.field(column), pa.nulls(data.num_rows, contract.field(column).type))
        return data.select(wanted)


def ensure_local(warehouse: str) -> None:
    if not is_local_warehouse(warehouse):
        raise StorageError(f"the delta-rs backend writes to a local file system; use delta-spark for {warehouse}")
    Path(warehouse.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
