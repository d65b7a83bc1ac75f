"""Read a list-prices export (the system.billing.list_prices schema) from Parquet, CSV or JSON."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F


def read_list_prices(spark: SparkSession, paths: Sequence[str], file_format: str) -> DataFrame:
    """The export as delivered. CSV and JSON values stay text (prices are never parsed as floats)."""
    if file_format == "csv":
        reader = spark.read.option("header", "true").option("escape", '"').option("multiLine", "true")
        data = reader.csv(list(paths))
    elif file_format == "json":
        data = spark.read.option("primitivesAsString", "true").option("multiLine", "false").json(list(paths))
    else:
        data = spark.read.parquet(*paths)
    return data.withColumn("_source_file", F.col("_metadata.file_path"))
