"""Read `system.billing.*` records: from the tables themselves, or from exports of them.

On Databricks the tables are read through Spark by name. Elsewhere users export them (Parquet,
JSON lines or CSV with the nested columns as JSON text) into a landing folder. Either way the
result has the delivered columns with their delivered types, plus `_source_file`; bronze turns
them into its contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

CORRUPT_RECORD = "_corrupt_record"


def read_exports(spark: SparkSession, paths: Sequence[str], file_format: str) -> DataFrame:
    """Export files as delivered, with `_source_file` (and `_corrupt_record` for JSON lines that do not parse).

    Parquet schemas are merged, so files written before Databricks added a field still load. JSON and
    CSV values stay text: numbers are never parsed through a float.
    """
    if file_format == "parquet":
        data = spark.read.option("mergeSchema", "true").parquet(*paths)
    elif file_format == "json":
        reader = spark.read.option("primitivesAsString", "true").option("mode", "PERMISSIVE")
        data = reader.option("columnNameOfCorruptRecord", CORRUPT_RECORD).json(list(paths))
    else:
        data = _read_csv(spark, paths)
    return data.withColumn("_source_file", F.col("_metadata.file_path"))


def _read_csv(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """CSV exports with every value as text; rows with the wrong number of fields keep their line in `_corrupt_record`.

    The header gives the columns; callers read files with one header together.
    """
    header = spark.read.option("header", "true").option("escape", '"').csv(paths[0]).columns
    schema = ", ".join(f"`{column}` string" for column in (*header, CORRUPT_RECORD))
    return (
        spark.read.option("header", "true")
        .option("escape", '"')
        .option("multiLine", "true")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
        .schema(schema)
        .csv(list(paths))
    )


def read_table(spark: SparkSession, table: str, ingested_since: date | None = None) -> DataFrame:
    """A system table by name, optionally only the records ingested on or after a date."""
    data = spark.table(table)
    if ingested_since is not None:
        data = data.where(F.col("ingestion_date") >= F.lit(ingested_since))
    return data.withColumn("_source_file", F.lit(table))
