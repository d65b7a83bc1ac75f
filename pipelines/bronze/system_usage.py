"""Transforms for `system.billing.usage` records: validate, split, and keep each record_id once.

Whatever the delivery (a table, Parquet, JSON lines or CSV), records are first rendered as text
(nested columns as JSON), validated, then typed into the bronze contract. Rendering a typed value
as text and parsing it back is exact, so every source goes through the same checks.
"""

from __future__ import annotations

import csv

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StringType, StructType

from pipelines import source_names
from pipelines.bronze.quarantine import CORRUPT, REASON
from pipelines.columns import MAX_QUANTITY, first_failure, parse_decimal, parse_timestamp
from pipelines.tables import SYSTEM_USAGE_COLUMNS

SOURCE = source_names.SYSTEM_USAGE
RECORD_TYPES = ("ORIGINAL", "RETRACTION", "RESTATEMENT")
REQUIRED_COLUMNS = (
    "record_id",
    "workspace_id",
    "sku_name",
    "cloud",
    "usage_start_time",
    "usage_end_time",
    "usage_date",
    "usage_unit",
    "usage_quantity",
    "record_type",
    "ingestion_date",
)


def header_columns(line: str | None) -> tuple[str, ...]:
    """The column names in a CSV header line (none for an empty file)."""
    if not line:
        return ()
    try:
        return tuple(c.strip() for c in next(csv.reader([line])))
    except (csv.Error, StopIteration):
        return ()


def missing_columns(columns: list[str]) -> list[str]:
    """Required columns a delivery lacks (such a delivery is rejected whole)."""
    present = set(columns)
    return [c for c in REQUIRED_COLUMNS if c not in present]


def _as_text(data: DataFrame, column: str) -> Column:
    if column not in data.columns:
        return F.lit(None).cast("string")
    kind = data.schema[column].dataType
    if isinstance(kind, StructType | MapType | ArrayType):
        return F.to_json(F.col(column))
    if isinstance(kind, StringType):
        return F.col(column)
    return F.col(column).cast("string")


def as_text(raw: DataFrame, delivery: Column) -> DataFrame:
    """The usage columns as text (nested ones as JSON), the delivery, `_source_file` and `_corrupt_record`."""
    corrupt = F.col(CORRUPT) if CORRUPT in raw.columns else F.lit(None).cast("string")
    return raw.select(
        *[_as_text(raw, c).alias(c) for c in SYSTEM_USAGE_COLUMNS],
        F.col("_source_file"),
        corrupt.alias(CORRUPT),
    ).withColumn("delivery", delivery)


def _date(text: Column) -> Column:
    return F.to_date(parse_timestamp(text))


def validate(text: DataFrame) -> DataFrame:
    """Add the typed values and `_reason` (NULL for a good record).

    A record is rejected when its cost cannot be trusted or placed: no id, workspace, SKU, cloud or
    unit; a missing or unparseable time, date or quantity; an unknown record type. Unreadable JSON in
    the nested columns does not reject a billable record: silver then has NULL attributes.
    """
    typed = text.withColumns(
        {
            "_start": parse_timestamp(F.col("usage_start_time")),
            "_end": parse_timestamp(F.col("usage_end_time")),
            "_date": _date(F.col("usage_date")),
            "_ingestion_date": _date(F.col("ingestion_date")),
            "_quantity": parse_decimal(F.col("usage_quantity")),
        }
    )

    def blank(column: str) -> Column:
        return F.col(column).isNull() | (F.trim(F.col(column)) == "")

    checks: list[tuple[Column, str]] = [
        (F.col(CORRUPT).isNotNull(), "not a well-formed record (wrong number of fields or invalid JSON)"),
        (blank("record_id"), "missing record_id"),
        (blank("workspace_id"), "missing workspace_id"),
        (blank("sku_name"), "missing sku_name"),
        (blank("cloud"), "missing cloud"),
        (blank("usage_unit"), "missing usage_unit"),
        (F.col("_start").isNull(), "missing or unparseable usage_start_time"),
        (F.col("_end").isNull(), "missing or unparseable usage_end_time"),
        (F.col("_end") < F.col("_start"), "usage_end_time is before usage_start_time"),
        (F.col("_date").isNull(), "missing or unparseable usage_date"),
        (F.col("usage_quantity").isNull(), "missing usage_quantity"),
        (F.col("_quantity").isNull(), "unparseable usage_quantity"),
        (
            F.abs(F.col("_quantity")) >= F.lit(MAX_QUANTITY),
            f"usage_quantity out of range (at least {MAX_QUANTITY:.0e})",
        ),
        (
            ~F.coalesce(F.col("record_type").isin(*RECORD_TYPES), F.lit(False)),
            "record_type is not one of " + ", ".join(RECORD_TYPES),
        ),
        (F.col("_ingestion_date").isNull(), "missing or unparseable ingestion_date"),
    ]
    return typed.withColumn(REASON, first_failure(checks))


def landed_rows(validated: DataFrame, sha: Column, ingested_at: Column) -> DataFrame:
    """Good records as bronze `system_usage` stores them: typed scalars, nested columns as JSON, lineage."""
    typed = {
        "usage_start_time": F.col("_start"),
        "usage_end_time": F.col("_end"),
        "usage_date": F.col("_date"),
        "usage_quantity": F.col("_quantity"),
        "ingestion_date": F.col("_ingestion_date"),
    }
    trimmed = {c: F.trim(F.col(c)) for c in ("record_id", "workspace_id", "sku_name", "cloud", "usage_unit")}
    return validated.where(F.col(REASON).isNull()).select(
        *[typed.get(c, trimmed.get(c, F.col(c))).alias(c) for c in SYSTEM_USAGE_COLUMNS],
        F.lit(SOURCE).alias("_source"),
        F.col("_source_file"),
        sha.alias("_source_sha256"),
        ingested_at.alias("_ingested_at"),
    )


def new_records(landed: DataFrame, existing_ids: DataFrame) -> DataFrame:
    """Each record_id once (overlapping exports repeat records), minus those bronze already holds.

    Of repeated copies the one from the first file (by path) is kept, so reruns pick the same copy.
    """
    first_copy = Window.partitionBy("record_id").orderBy("_source_file")
    unique = landed.withColumn("_copy", F.row_number().over(first_copy)).where("_copy = 1").drop("_copy")
    return unique.join(existing_ids.select("record_id"), "record_id", "left_anti").select(*landed.columns)
