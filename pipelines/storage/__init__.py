"""Delta table I/O: one interface (`TableStore`), two backends (delta-rs locally, delta-spark on clusters)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from pyspark.sql import SparkSession

from pipelines.config import PipelineConfig
from pipelines.errors import StorageError
from pipelines.spark import is_connect
from pipelines.storage.base import Commit, Partitions, Replace, TableReader, TableStore

__all__ = [
    "Commit",
    "Partitions",
    "Replace",
    "TableReader",
    "TableStore",
    "delta_spark_available",
    "is_local_warehouse",
    "open_reader",
    "open_store",
    "reads_without_spark",
]


# Error conditions of reading a missing path as Delta: Delta's data source answered (its classes are loaded).
_DELTA_ANSWERS = ("PATH_NOT_FOUND", "DELTA_PATH_DOES_NOT_EXIST", "DELTA_MISSING_DELTA_TABLE", "DELTA_TABLE_NOT_FOUND")


def is_local_warehouse(warehouse: str) -> bool:
    """Whether `warehouse` is a path on a local or mounted file system (no URL scheme, or file://).

    Here rather than in the delta-rs backend, so that the delta-spark path (Databricks) never imports `deltalake`.
    """
    return warehouse.startswith("file://") or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", warehouse) is None


def delta_spark_available(spark: SparkSession) -> bool:
    """True when this Spark has Delta's data source (Databricks, clusters and local sessions with the Delta jars).

    Asked through the DataFrame API, so that a Spark Connect session (no JVM in this process) can answer:
    reading a path that does not exist fails with a missing-path error when Delta is there, and with
    DATA_SOURCE_NOT_FOUND when it is not.
    """
    probe = f"/billing-lakehouse-probe-{uuid.uuid4().hex}"
    try:
        spark.read.format("delta").load(probe).schema  # noqa: B018  (a Connect session analyses it only when asked)
    except Exception as error:
        condition = getattr(error, "getCondition", lambda: None)() or ""
        return condition in _DELTA_ANSWERS or any(name in str(error) for name in _DELTA_ANSWERS)
    return True


def open_store(spark: SparkSession, config: PipelineConfig) -> TableStore:
    """The backend the config asks for; `auto` picks delta-spark when its classes load, and on Spark Connect."""
    backend = config.storage
    if backend == "auto":
        backend = "delta-spark" if delta_spark_available(spark) else "delta-rs"
    if backend == "delta-rs" and is_connect(spark):  # Spark writes files on the server's disk; this process commits
        raise StorageError(
            f"storage {config.storage} chose delta-rs, which needs a classic Spark session: it moves and reads the"
            " Parquet files Spark writes from this process, and a Spark Connect server's disk need not be this"
            " machine's; use storage: delta-spark on a Spark Connect server with Delta Lake (Databricks has it)"
        )
    if backend == "delta-spark":
        from pipelines.storage.delta_spark import DeltaSparkStore

        return DeltaSparkStore(spark, config.warehouse, config.catalog, config.schemas)
    if config.catalog is not None:  # delta-rs writes paths only; never write the tables somewhere else instead
        raise StorageError(f"catalog {config.catalog} needs Delta's Spark classes, which this Spark cannot load")
    from pipelines.storage.delta_rs import DeltaRsStore, ensure_local

    ensure_local(config.warehouse)
    return DeltaRsStore(spark, config.warehouse)


def reads_without_spark(config: PipelineConfig) -> bool:
    """Whether the read-only commands can read this config's tables with delta-rs alone, without a JVM.

    `storage: auto` picks delta-spark for writes when Delta's classes load in a JVM, but asking costs
    starting one (tens of seconds on a small machine), which is most of what `status` would take. So
    for reads, `auto` decides from the config instead: a local warehouse without a Unity Catalog
    `catalog` holds its tables at `<warehouse>/<layer>/<table>` as standard Delta tables, which
    delta-rs reads whichever backend wrote them. Catalog names and remote warehouses (s3://,
    abfss://, dbfs:) are read through Spark; so is everything when the config says `delta-spark`.
    """
    if config.storage == "delta-spark":
        return False
    if config.storage == "delta-rs":
        return True
    return config.catalog is None and is_local_warehouse(config.warehouse)


def open_reader(config: PipelineConfig, session: Callable[[], SparkSession]) -> TableReader:
    """Read-only access for status, summary and report; `session` is called only when the tables need Spark."""
    if not reads_without_spark(config):
        return open_store(session(), config)
    from pipelines.storage.delta_rs import DeltaRsReader

    if not is_local_warehouse(config.warehouse):
        raise StorageError(f"the delta-rs backend reads a local file system; use delta-spark for {config.warehouse}")
    return DeltaRsReader(config.warehouse)
