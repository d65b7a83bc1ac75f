"""What every validated delivery has in common: bad rows to quarantine, and counts per delivery.

A validated frame has `delivery`, `_source_file`, `_corrupt_record` (the delivered line when it could
not be split into fields) and `_reason` (NULL for a good row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.storage import Replace, TableStore
from pipelines.tables import QUARANTINE

CORRUPT = "_corrupt_record"
REASON = "_reason"


def quarantined_rows(
    validated: DataFrame, source: str, columns: Sequence[str], sha: Column, ingested_at: Column
) -> DataFrame:
    """Bad rows with the raw record (the delivered line, or its `columns` as JSON) and the reason."""
    fields_as_json = F.to_json(F.struct(*columns))
    return validated.where(F.col(REASON).isNotNull()).select(
        F.lit(source).alias("source"),
        F.col("delivery"),
        F.col("_source_file").alias("source_file"),
        F.coalesce(F.col(CORRUPT), fields_as_json).alias("raw_record"),
        F.col(REASON).alias("reason"),
        sha.alias("_source_sha256"),
        ingested_at.alias("_ingested_at"),
    )


def counts_by_delivery(validated: DataFrame) -> DataFrame:
    """Rows read, landed and quarantined per delivery (read = landed + quarantined by construction)."""
    bad = F.col(REASON).isNotNull().cast("long")
    return validated.groupBy("delivery").agg(
        F.count(F.lit(1)).alias("rows_read"),
        F.sum(1 - bad).alias("rows_landed"),
        F.sum(bad).alias("rows_quarantined"),
    )


def held_deliveries(store: TableStore, source: str) -> set[str]:
    """The deliveries of a source that have rows in the quarantine now."""
    return {str(p["delivery"]) for p in store.partition_values(QUARANTINE) if p.get("source") == source}


def replace_quarantined(
    store: TableStore,
    source: str,
    deliveries: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    metadata: Mapping[str, Any],
) -> int | None:
    """Replace the quarantine partitions of some deliveries with rows built on the driver (API answers).

    Nothing is written when there is nothing to quarantine and those deliveries held nothing before.
    Returns the new version, or None when nothing was written.
    """
    if not rows and not held_deliveries(store, source) & set(deliveries):
        return None
    return store.write(
        QUARANTINE,
        store.spark.createDataFrame(list(rows), QUARANTINE.schema()),
        Replace.where([{"source": source, "delivery": d} for d in sorted(deliveries)]),
        {**metadata, "changed": {"deliveries": sorted(deliveries)}},
    )
