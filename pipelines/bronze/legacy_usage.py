"""Transforms for legacy billable-usage CSV rows: validate, then split into landed and quarantined."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines import source_names
from pipelines.bronze.quarantine import CORRUPT, REASON
from pipelines.columns import (
    MAX_QUANTITY,
    date_of_hour_ending,
    end_of_hour,
    first_failure,
    parse_decimal,
    parse_timestamp,
)
from pipelines.sources.legacy_csv import FILE_NAME, header_problem
from pipelines.tables import LEGACY_CSV_COLUMNS

__all__ = [
    "FILE_NAME",
    "SOURCE",
    "changed_usage_dates",
    "delivery_key",
    "header_problem",
    "landed_rows",
    "partition_columns",
    "validate",
]

SOURCE = source_names.LEGACY_CSV


def delivery_key(file_name: str) -> str:
    """The delivery a file is: its name without `.csv` (one per workspace and usage month)."""
    return file_name.removesuffix(".csv")


def _rejection_reason() -> Column:
    """The first failed check's reason, over columns `validate` computed once per row.

    A record's usage hour is the one its timestamp ends (09:59:59.999 and 10:00:00 both end 09:00-10:00),
    so the hour starts in the month of `timestamp - 1 microsecond`.
    """
    usage_start_month = F.date_format(F.col("_timestamp") - F.expr("INTERVAL 1 MICROSECOND"), "yyyy-MM")
    checks: list[tuple[Column, str]] = [
        (F.col(CORRUPT).isNotNull(), f"wrong number of fields: expected {len(LEGACY_CSV_COLUMNS)}"),
        (F.col("workspaceId").isNull(), "missing workspaceId"),
        (F.trim(F.col("workspaceId")) != F.col("workspace_id"), "workspaceId does not match the file name"),
        (F.col("timestamp").isNull(), "missing timestamp"),
        (F.col("_timestamp").isNull(), "unparseable timestamp"),
        (usage_start_month != F.col("usage_month"), "timestamp outside the file's usage month"),
        (F.col("sku").isNull() | (F.trim(F.col("sku")) == ""), "missing sku"),
        (F.col("dbus").isNull(), "missing dbus"),
        (F.col("_dbus").isNull(), "unparseable dbus"),
        (F.abs(F.col("_dbus")) >= F.lit(MAX_QUANTITY), f"dbus out of range (at least {MAX_QUANTITY:.0e})"),
        (F.col("machineHours").isNotNull() & F.col("_machine_hours").isNull(), "unparseable machineHours"),
    ]
    return first_failure(checks)


def partition_columns(file_name: Column) -> dict[str, Column]:
    """`workspace_id` and `usage_month` of a file named like `FILE_NAME`, with plain string functions."""
    return {
        "workspace_id": F.substring_index(F.substring_index(file_name, "-usageMonth=", 1), "workspaceId=", -1),
        "usage_month": F.substring(file_name, -len("yyyy-mm.csv"), len("yyyy-mm")),
    }


def validate(raw: DataFrame) -> DataFrame:
    """Add the delivery columns taken from the file name and `_reason` (NULL for a good row).

    A row is rejected when its cost cannot be trusted: wrong field count, missing or unparseable time
    or quantity, or a workspace or month that disagrees with the file. Malformed tag JSON does not
    reject a billable row (that would drop real cost): the text stays in bronze, silver's tag map is NULL.

    `raw` has the 12 CSV columns as strings, `_corrupt_record`, `_source_file` and `_file_name`, read from
    files whose names match `FILE_NAME` (so plain string functions take the name apart, once per row).
    """
    name = F.col("_file_name")
    parsed = raw.withColumns(
        {
            "_timestamp": parse_timestamp(F.col("timestamp")),
            "_dbus": parse_decimal(F.col("dbus")),
            "_machine_hours": parse_decimal(F.col("machineHours")),
            **partition_columns(name),
            "delivery": F.substring(name, 1, F.length(name) - len(".csv")),
        }
    )
    checked = parsed.withColumn(REASON, _rejection_reason())
    return checked.drop("_file_name", "_timestamp", "_dbus", "_machine_hours")


def landed_rows(validated: DataFrame, sha_by_delivery: Column, ingested_at: Column) -> DataFrame:
    """Good rows as bronze `legacy_usage` stores them: the CSV columns as delivered plus lineage."""
    return validated.where(F.col(REASON).isNull()).select(
        *LEGACY_CSV_COLUMNS,
        F.lit(SOURCE).alias("_source"),
        F.col("_source_file"),
        sha_by_delivery.alias("_source_sha256"),
        ingested_at.alias("_ingested_at"),
        "workspace_id",
        "usage_month",
    )


def _signed_digests(rows: DataFrame, sign: int) -> DataFrame:
    """Per row: its usage date (as silver dates it), `sign`, and `sign` times a 64-bit hash of its delivered
    fields and source file (each with its null flag, so a value moving to the next column changes the hash)."""
    fields = [x for c in (*LEGACY_CSV_COLUMNS, "_source_file") for x in (F.col(c), F.col(c).isNull())]
    return rows.select(
        date_of_hour_ending(end_of_hour(parse_timestamp(F.col("timestamp")))).alias("usage_date"),
        F.lit(sign).alias("_sign"),
        (F.xxhash64(*fields).cast("decimal(20,0)") * sign).alias("_digest"),
    )


def changed_usage_dates(before: DataFrame, after: DataFrame) -> DataFrame:
    """The usage dates whose landed rows differ between two versions of the same deliveries.

    Rows are compared as a multiset (order and file layout do not matter): per date, the difference
    of the row counts and of the sums of the rows' hashes, in one aggregation. A month-to-date file
    delivered again with more rows on its last day changes that day only; a date that appears or
    disappears is changed, so a first delivery (nothing before) changes every date it has rows for.
    A file delivered from another path changes every date (silver keeps each row's source file).
    """
    signed = _signed_digests(before, -1).unionByName(_signed_digests(after, 1))
    totals = signed.groupBy("usage_date").agg(F.sum("_sign").alias("rows"), F.sum("_digest").alias("digest"))
    return totals.where((F.col("rows") != 0) | (F.col("digest") != 0)).select("usage_date")
