"""Read legacy billable-usage CSV deliveries as delivered: every column a string, nothing lost."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.tables import LEGACY_CSV_COLUMNS

CORRUPT_RECORD = "_corrupt_record"


def read_legacy_csv(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """The 12 columns as strings, `_corrupt_record` for rows with the wrong field count, `_source_file`.

    `escape '"'` reads the `""`-escaped JSON tag columns (the delivered format); an explicit schema
    keeps every value as its text, so decimals are never parsed through a float.
    """
    schema = ", ".join(f"`{c}` string" for c in (*LEGACY_CSV_COLUMNS, CORRUPT_RECORD))
    return (
        spark.read.option("header", "true")
        .option("escape", '"')
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
        .option("encoding", "UTF-8")
        .option("ignoreLeadingWhiteSpace", "false")
        .option("ignoreTrailingWhiteSpace", "false")
        .schema(schema)
        .csv(list(paths))
        .withColumn("_source_file", F.col("_metadata.file_path"))
    )
