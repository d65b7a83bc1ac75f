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

from pipelines.columns import MAX_QUANTITY, first_failure, parse_decimal, parse_timestamp
from pipelines.sources.system_tables import CORRUPT_RECORD
from pipelines.tables import SYSTEM_USAGE_COLUMNS

SOURCE = "system_usage"
REASON = "_reason"
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
    corrupt = F.col(CORRUPT_RECORD) if CORRUPT_RECORD in raw.columns else F.lit(None).cast("string")
    return raw.select(
        *[_as_text(raw, c).alias(c) for c in SYSTEM_USAGE_COLUMNS],
        F.col("_source_file"),
        corrupt.alias(CORRUPT_RECORD),
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
        (F.col(CORRUPT_RECORD).isNotNull(), "not a well-formed record (wrong number of fields or invalid JSON)"),
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


def quarantined_rows(validated: DataFrame, sha: Column, ingested_at: Column) -> DataFrame:
    """Bad records with the record as delivered (the line, or its fields as JSON) and the reason."""
    fields_as_json = F.to_json(F.struct(*SYSTEM_USAGE_COLUMNS))
    return validated.where(F.col(REASON).isNotNull()).select(
        F.lit(SOURCE).alias("source"),
        F.col("delivery"),
        F.col("_source_file").alias("source_file"),
        F.coalesce(F.col(CORRUPT_RECORD), fields_as_json).alias("raw_record"),
        F.col(REASON).alias("reason"),
        sha.alias("_source_sha256"),
        ingested_at.alias("_ingested_at"),
    )


def counts_by_delivery(validated: DataFrame) -> DataFrame:
    """Records read, landed and quarantined per delivery (read = landed + quarantined by construction).

    A record whose record_id bronze already holds counts as landed: it is there, once.
    """
    bad = F.col(REASON).isNotNull().cast("long")
    return validated.groupBy("delivery").agg(
        F.count(F.lit(1)).alias("rows_read"),
        F.sum(1 - bad).alias("rows_landed"),
        F.sum(bad).alias("rows_quarantined"),
        F.min("_ingestion_date").alias("first_ingestion_date"),
    )


def new_records(landed: DataFrame, existing_ids: DataFrame) -> DataFrame:
    """Each record_id once (overlapping exports repeat records), minus those bronze already holds.

    Of repeated copies the one from the first file (by path) is kept, so reruns pick the same copy.
    """
    first_copy = Window.partitionBy("record_id").orderBy("_source_file")
    unique = landed.withColumn("_copy", F.row_number().over(first_copy)).where("_copy = 1").drop("_copy")
    return unique.join(existing_ids.select("record_id"), "record_id", "left_anti").select(*landed.columns)
