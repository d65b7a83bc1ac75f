"""delta-spark backend: Delta's own Spark writer, for Databricks and clusters with the Delta jars.

It uses only the standard writer options (`replaceWhere`, `userMetadata`) and `DeltaTable.history`.
It cannot run on machines without the Delta jars (Maven), so it is kept deliberately small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from pipelines.storage.base import (
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


class DeltaSparkStore(TableStore):
    """Tables as paths under the warehouse, or Unity Catalog names `<catalog>.<schema>.<table>`."""

    def __init__(self, spark: SparkSession, warehouse: str, catalog: str | None, schemas: Mapping[str, str]) -> None:
        super().__init__(spark)
        self.warehouse, self.catalog, self.schemas = warehouse.rstrip("/"), catalog, dict(schemas)

    def location(self, table: TableSpec) -> str:
        if self.catalog:
            return f"{self.catalog}.{self.schemas.get(table.layer, table.layer)}.{table.name}"
        return f"{self.warehouse}/{table.layer}/{table.name}"

    def _delta(self, table: TableSpec) -> Any:
        from delta.tables import DeltaTable

        name = self.location(table)
        if self.catalog:
            return DeltaTable.forName(self.spark, name) if self.spark.catalog.tableExists(name) else None
        return DeltaTable.forPath(self.spark, name) if DeltaTable.isDeltaTable(self.spark, name) else None

    def version(self, table: TableSpec) -> int | None:
        commits = self._commits(table, limit=1)
        return commits[-1].version if commits else None

    def read(self, table: TableSpec, partitions: Partitions | None = None) -> DataFrame:
        if table.key not in self._first_seen:
            self.version(table)  # the version this unit of work's writes of the table build on
        delta = self._delta(table)
        if delta is None:
            return self.empty(table)
        data = delta.toDF()
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
        transaction = self.transaction_version(table, before)
        writer = (
            self.conform(table, data)
            .write.format("delta")
            .mode(mode)
            .option("userMetadata", encode_metadata(metadata))
            .option("txnAppId", TRANSACTION_APP)
            .option("txnVersion", str(transaction))
        )
        if table.partition_by:
            writer = writer.partitionBy(*table.partition_by)
        if mode == "append":  # columns a newer contract appends are added, never dropped
            writer = writer.option("mergeSchema", "true")
        predicate = replace.sql_predicate()
        if exists and predicate:
            writer = writer.option("replaceWhere", predicate)
        if self.catalog:
            writer.saveAsTable(self.location(table))
        else:
            writer.save(self.location(table))
        version = self.version(table)
        assert version is not None
        if version != before:
            self._committed(table, version)
        return version

    def _commits(self, table: TableSpec, limit: int | None) -> list[Commit]:
        delta = self._delta(table)
        if delta is None:
            return []
        history = delta.history(limit) if limit else delta.history()
        rows = history.select("version", "userMetadata").collect()
        self._observe(table, max((int(r.version) for r in rows), default=None))
        return sorted((Commit(int(r.version), decode_metadata(r.userMetadata)) for r in rows), key=lambda c: c.version)

    def partition_values(self, table: TableSpec) -> list[dict[str, str | None]]:
        if not table.partition_by or self._delta(table) is None:
            return []
        rows = self.read(table).select(*table.partition_by).distinct().collect()
        return [{c: None if r[c] is None else str(r[c]) for c in table.partition_by} for r in rows]

    def row_count(self, table: TableSpec) -> int:
        return self.read(table).count()
