"""delta-spark backend: Delta's own Spark writer, for Databricks and clusters with the Delta jars.

It uses only the standard writer options (`replaceWhere`, `userMetadata`, `txnAppId`/`txnVersion`), reads with
`format("delta")` or by name, and history with `DESCRIBE HISTORY`: the DataFrame API and SQL, so that a Spark
Connect session (Databricks serverless; no `delta.tables.DeltaTable` without Delta's Connect plugin) works too.
It cannot run on machines without the Delta jars (Maven), so it is kept deliberately small.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, DataFrameWriter, SparkSession

from pipelines.errors import ConcurrentCommit
from pipelines.storage.base import (
    RECENT_COMMITS,
    TRANSACTION_APP,
    Commit,
    Partitions,
    Replace,
    TableStore,
    decode_metadata,
    encode_metadata,
    partition_filter,
)
from pipelines.tables import TableSpec

log = logging.getLogger(__name__)

# User-metadata keys of every delta-spark commit: its application transaction version and a per-write id.
TRANSACTION_KEY = "transaction"
WRITE_ID_KEY = "write_id"

# Delta's session setting for a commit's user metadata (its writer option is ignored when a write creates a table).
USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


def _quoted(part: str) -> str:
    return "`" + part.replace("`", "``") + "`"


class DeltaSparkStore(TableStore):
    """Tables as paths under the warehouse, or Unity Catalog names `<catalog>.<schema>.<table>`."""

    def __init__(self, spark: SparkSession, warehouse: str, catalog: str | None, schemas: Mapping[str, str]) -> None:
        super().__init__(spark)
        self.warehouse, self.catalog, self.schemas = warehouse.rstrip("/"), catalog, dict(schemas)
        self._created_schemas: set[str] = set()

    def location(self, table: TableSpec) -> str:
        if self.catalog:
            return f"{self.catalog}.{self._schema(table)}.{table.name}"
        return f"{self.warehouse}/{table.layer}/{table.name}"

    def _schema(self, table: TableSpec) -> str:
        return self.schemas.get(table.layer, table.layer)

    def _identifier(self, table: TableSpec) -> str:
        """The catalog name with each part quoted (Unity Catalog names may hold `-`)."""
        return ".".join(_quoted(part) for part in (self.catalog or "", self._schema(table), table.name))

    def _sql_name(self, table: TableSpec) -> str:
        """How SQL names the table: its quoted catalog name, or delta.`<path>`."""
        return self._identifier(table) if self.catalog else f"delta.{_quoted(self.location(table))}"

    def _frame(self, table: TableSpec) -> DataFrame | None:
        """The table's current snapshot, None when there is no Delta table yet (DataFrame API: Spark Connect too)."""
        if self.catalog:
            name = self._identifier(table)
            return self.spark.read.table(name) if self.spark.catalog.tableExists(name) else None
        try:
            data = self.spark.read.format("delta").load(self.location(table))
            data.schema  # noqa: B018  (a Connect session analyses the read only when asked)
        except Exception as error:
            if _no_table(error):
                return None
            raise
        return data

    def _create_schema(self, table: TableSpec) -> None:
        """`CREATE SCHEMA IF NOT EXISTS`, once per schema and store, before its first table is written."""
        schema = f"{_quoted(self.catalog or '')}.{_quoted(self._schema(table))}"
        if schema not in self._created_schemas:
            self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            self._created_schemas.add(schema)

    def _save_as_table(
        self, table: TableSpec, writer: DataFrameWriter, exists: bool, replace: Replace, metadata: str
    ) -> None:
        """Write a catalog table by name; the first write creates it (CREATE TABLE AS SELECT).

        Replacing all rows is a `replaceWhere` of `true`, a plain WRITE as on a path: saveAsTable's
        overwrite alone would be CREATE OR REPLACE TABLE, which resets the table's definition (comments,
        properties a catalog admin set). Delta drops the `userMetadata` option of a create, so the session
        setting carries it for that one commit (version 0 records what the table consumed, like any other).
        """
        self._create_schema(table)
        name = self._identifier(table)
        if exists and replace.everything:
            writer = writer.option("replaceWhere", "true")
        if exists:
            writer.saveAsTable(name)
            return
        previous = self.spark.conf.get(USER_METADATA_CONF, None)
        self.spark.conf.set(USER_METADATA_CONF, metadata)
        try:
            writer.saveAsTable(name)
        finally:
            if previous is None:
                self.spark.conf.unset(USER_METADATA_CONF)
            else:
                self.spark.conf.set(USER_METADATA_CONF, previous)

    def version(self, table: TableSpec) -> int | None:
        commits = self._commits(table, limit=1)
        return commits[-1].version if commits else None

    def read(self, table: TableSpec, partitions: Partitions | None = None) -> DataFrame:
        if table.key not in self._first_seen:
            self.version(table)  # the version this unit of work's writes of the table build on
        data = self._frame(table)
        if data is None:
            return self.empty(table)
        return data if partitions is None else data.where(partition_filter(partitions))

    def read_rows(self, table: TableSpec) -> list[dict[str, Any]]:
        return [row.asDict() for row in self.read(table).collect()]

    def read_arrow(self, table: TableSpec, columns: Sequence[str] | None = None) -> pa.Table:
        data = self.read(table)
        return (data.select(*columns) if columns else data).toArrow()

    def write(self, table: TableSpec, data: DataFrame, replace: Replace, metadata: Mapping[str, Any]) -> int:
        before = self.version(table)
        exists = before is not None
        mode = "overwrite" if exists and (replace.everything or replace.partitions) else "append"
        # Delta skips a write whose application transaction the table already holds (another run's commit).
        # The commit also records the transaction and a per-write id in its user metadata, which history
        # returns (catalog tables give no path access to the log): that tells this write's commit from a skip.
        transaction = self.transaction_version(table, before)
        write_id = uuid.uuid4().hex
        sent = encode_metadata({**metadata, TRANSACTION_KEY: transaction, WRITE_ID_KEY: write_id})
        writer = (
            self.conform(table, data)
            .write.format("delta")
            .mode(mode)
            .option("userMetadata", sent)
            .option("txnAppId", TRANSACTION_APP)
            .option("txnVersion", str(transaction))
        )
        if table.partition_by:
            writer = writer.partitionBy(*table.partition_by)
        if mode == "append":  # columns a newer contract appends are added, never dropped
            writer = writer.option("mergeSchema", "true")
        if exists and replace.everything:
            # A contract that gained columns (a rebuild after a fingerprint bump): a path table takes the
            # contract's schema (overwriteSchema); a catalog table, replaced through replaceWhere 'true', where
            # Delta ignores overwriteSchema, gains the new columns at the end (mergeSchema).
            writer = writer.option("overwriteSchema", "true").option("mergeSchema", "true")
        predicate = replace.sql_predicate()
        if exists and predicate:
            writer = writer.option("replaceWhere", predicate)
        try:
            self._save(table, writer, exists, replace, sent)
        except Exception as error:
            if not _concurrent_commit(error):
                raise
            self._lost_race(table, before, transaction, error)
        return self._outcome(table, before, transaction, write_id)

    def _outcome(self, table: TableSpec, before: int | None, transaction: int, write_id: str) -> int:
        """The table's version after a write; when the write committed, its later writes build on that commit.

        A write Delta skipped (the table already held its application transaction: another run did this
        unit of work's write first) leaves the unit where it was, so its next writes of the table are
        skipped too; taking the other run's commit for its own would let them commit a second time.
        """
        commits = self._commits_since(table, before)
        current = max((c.version for c in commits), default=before)
        assert current is not None, f"{table} has no version after a write"
        own = [c.version for c in commits if c.metadata.get(WRITE_ID_KEY) == write_id]
        if own:
            self._committed(table, max(own))
        elif commits:
            log.warning(
                "%s: another run committed application transaction %s first; this write is skipped", table, transaction
            )
        return current

    def _commits_since(self, table: TableSpec, before: int | None) -> list[Commit]:
        """Commits after version `before` (all when None), oldest first, in one history read where possible."""
        recent = self._commits(table, RECENT_COMMITS)
        first = 0 if before is None else before + 1
        if recent and recent[0].version > first:
            recent = self._commits(table, None)
        return [c for c in recent if c.version >= first]

    def _save(self, table: TableSpec, writer: DataFrameWriter, exists: bool, replace: Replace, metadata: str) -> None:
        """Delta's commit of one write: the data files and the new log entry (a kill splits a run here)."""
        if self.catalog:
            self._save_as_table(table, writer, exists, replace, metadata)
        else:
            writer.save(self.location(table))

    def _lost_race(self, table: TableSpec, before: int | None, transaction: int, error: Exception) -> None:
        """Another run committed to `table` while this write was committing (only without the warehouse lease).

        When one of those commits carries this write's application transaction, the other run did this unit
        of work's write already: this one is skipped, as Delta skips it when the commit came first. Any
        other concurrent change means this write was planned from a state that no longer holds: the run
        stops with `ConcurrentCommit`, every commit it made stays valid, and the next run converges.
        """
        recorded = self._transactions_since(table, before)
        if recorded >= transaction:
            log.warning(
                "%s: another run committed application transaction %s at the same time; this write (%s) is skipped",
                table,
                recorded,
                transaction,
            )
            return
        raise ConcurrentCommit(
            f"{table} was changed by another run while this run wrote it ({_first_line(error)});"
            " nothing of this write was committed, and a new run carries on from the committed tables"
        ) from error

    def _transactions_since(self, table: TableSpec, before: int | None) -> int:
        """The highest application transaction this project's commits after `before` recorded (-1: none)."""
        recorded = [c.metadata.get(TRANSACTION_KEY) for c in self._commits_since(table, before)]
        return max((int(v) for v in recorded if isinstance(v, int)), default=-1)

    def _commits(self, table: TableSpec, limit: int | None) -> list[Commit]:
        """The table's newest `limit` commits (all when None) from DESCRIBE HISTORY; none when there is no table."""
        if self.catalog and not self.spark.catalog.tableExists(self._identifier(table)):
            return []
        query = f"DESCRIBE HISTORY {self._sql_name(table)}" + (f" LIMIT {int(limit)}" if limit else "")
        try:
            rows = self.spark.sql(query).select("version", "userMetadata").collect()
        except Exception as error:
            if _no_table(error):
                return []
            raise
        if not rows:
            return []
        self._observe(table, max(int(r.version) for r in rows))
        return sorted((Commit(int(r.version), decode_metadata(r.userMetadata)) for r in rows), key=lambda c: c.version)

    def partition_values(self, table: TableSpec) -> list[dict[str, str | None]]:
        data = self._frame(table) if table.partition_by else None
        if data is None:
            return []
        rows = data.select(*table.partition_by).distinct().collect()
        return [{c: None if r[c] is None else str(r[c]) for c in table.partition_by} for r in rows]

    def row_count(self, table: TableSpec) -> int:
        return self.read(table).count()


# Delta's optimistic concurrency errors (io.delta.exceptions / DELTA_CONCURRENT_* error classes).
_CONCURRENCY_ERRORS = ("Concurrent", "MetadataChanged", "ProtocolChanged", "DELTA_CONCURRENT", "DELTA_METADATA_CHANGED")


def _concurrent_commit(error: Exception) -> bool:
    """Whether Delta refused a commit because another writer committed first."""
    text = f"{type(error).__name__}: {error}"
    return any(marker in text for marker in _CONCURRENCY_ERRORS)


# How Spark says there is no Delta table at a path or name (DESCRIBE HISTORY, or a read of a path as delta).
_NO_TABLE = (
    "DELTA_TABLE_ONLY_OPERATION",
    "DELTA_MISSING_DELTA_TABLE",
    "DELTA_PATH_DOES_NOT_EXIST",
    "DELTA_TABLE_NOT_FOUND",
    "PATH_NOT_FOUND",
    "TABLE_OR_VIEW_NOT_FOUND",
)


def _no_table(error: Exception) -> bool:
    """Whether Spark refused a read or history because there is no Delta table there (yet)."""
    return getattr(error, "getCondition", lambda: None)() in _NO_TABLE


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
