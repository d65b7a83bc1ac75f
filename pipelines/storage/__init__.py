"""Delta table I/O: one interface (`TableStore`), two backends (delta-rs locally, delta-spark on clusters)."""

from __future__ import annotations

from pyspark.sql import SparkSession

from pipelines.config import PipelineConfig
from pipelines.storage.base import Commit, Partitions, Replace, TableStore

__all__ = ["Commit", "Partitions", "Replace", "TableStore", "delta_spark_available", "open_store"]


def delta_spark_available(spark: SparkSession) -> bool:
    """True when Delta's Spark classes are on the JVM classpath (Databricks, clusters with delta-spark)."""
    try:
        spark._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")  # type: ignore[union-attr]
    except Exception:
        return False
    return True


def open_store(spark: SparkSession, config: PipelineConfig) -> TableStore:
    """The backend the config asks for; `auto` picks delta-spark when its classes load."""
    backend = config.storage
    if backend == "auto":
        backend = "delta-spark" if delta_spark_available(spark) else "delta-rs"
    if backend == "delta-spark":
        from pipelines.storage.delta_spark import DeltaSparkStore

        return DeltaSparkStore(spark, config.warehouse, config.catalog, config.schemas)
    from pipelines.storage.delta_rs import DeltaRsStore, ensure_local

    ensure_local(config.warehouse)
    return DeltaRsStore(spark, config.warehouse)
