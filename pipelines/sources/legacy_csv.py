"""Read legacy billable-usage CSV deliveries as delivered: every column a string, nothing lost."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.config.pipeline import DEFAULT_MAX_RECORD_BYTES
from pipelines.tables import LEGACY_CSV_COLUMNS

CORRUPT_RECORD = "_corrupt_record"
FILE_NAME = re.compile(r"^workspaceId=(\d+)-usageMonth=(\d{4}-(?:0[1-9]|1[0-2]))\.csv$")


def month_file_name(workspace_id: str, month: str) -> str:
    """The name a delivery of one workspace and usage month has."""
    return f"workspaceId={workspace_id}-usageMonth={month}.csv"


def header_problem(line: str | None) -> str | None:
    """Why a first line is not the legacy usage header, or None if it is."""
    if line is None:
        return "empty file"
    try:
        fields = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return "unreadable header line"
    if [f.strip() for f in fields] != list(LEGACY_CSV_COLUMNS):
        return f"unexpected header: expected {','.join(LEGACY_CSV_COLUMNS)}"
    return None


def read_legacy_csv(
    spark: SparkSession, paths: Sequence[str], max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> DataFrame:
    """The 12 columns as strings, `_corrupt_record` for records with the wrong field count, `_source_file`
    (the file's path) and `_file_name` (its name).

    `escape '"'` reads the `""`-escaped JSON tag columns (the delivered format); an explicit schema
    keeps every value as its text, so decimals are never parsed through a float. `multiLine` reads a
    record whose quoted field holds a line break as one record (legal CSV), CRLF and LF alike; a file is
    then read by one task. No field may exceed `max_record_bytes` characters (the files were measured
    before, so this only guards memory).
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
        .option("multiLine", "true")
        .option("maxCharsPerColumn", str(max_record_bytes))
        .schema(schema)
        .csv(list(paths))
        .withColumns(
            {"_source_file": F.col("_metadata.file_path"), "_file_name": F.url_decode(F.col("_metadata.file_name"))}
        )
    )
