"""What the tables hold now: versions, row counts and the last ingest per source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import Window
from pyspark.sql import functions as F

from pipelines.storage import TableStore
from pipelines.tables import ALL_TABLES, INGEST_LOG


@dataclass(frozen=True)
class TableStatus:
    table: str
    location: str
    version: int | None
    rows: int


def table_status(store: TableStore) -> list[TableStatus]:
    """Every table of the contract, existing or not, with its Delta version and row count."""
    return [
        TableStatus(
            t.key, store.location(t), store.version(t), store.row_count(t) if store.version(t) is not None else 0
        )
        for t in ALL_TABLES
    ]


def last_ingest(store: TableStore) -> list[dict[str, Any]]:
    """Per source: its last ingest, and its deliveries or API request windows as they stand now (latest of each)."""
    newest = Window.partitionBy("source", "delivery").orderBy(F.col("ingested_at").desc())
    last_landed = F.max(F.when(F.col("status") == "landed", F.col("ingested_at"))).over(Window.partitionBy("source"))
    log = (
        store.read(INGEST_LOG)
        .withColumn("_rank", F.row_number().over(newest))
        .withColumn("_last_landed", last_landed)
        .where("_rank = 1")
    )
    # A delivery rejected as it stands now counts; a failed API window counts until a later window landed.
    not_landed = (F.col("status") == "rejected") | (
        (F.col("status") == "failed") & ~F.coalesce(F.col("_last_landed") > F.col("ingested_at"), F.lit(False))
    )
    rows = (
        log.groupBy("source")
        .agg(
            F.date_format(F.max("ingested_at"), "yyyy-MM-dd HH:mm:ss").alias("last_ingested_at"),
            F.countDistinct("delivery").alias("deliveries"),
            F.sum(F.when(not_landed, 1).otherwise(0)).alias("rejections"),
            F.sum("rows_landed").alias("rows_landed"),
            F.sum("rows_quarantined").alias("rows_quarantined"),
        )
        .orderBy("source")
        .collect()
    )
    return [row.asDict() for row in rows]


def format_status(store: TableStore) -> str:
    lines = [f"{'table':<26} {'version':>8} {'rows':>12}  location"]
    for status in table_status(store):
        version = "-" if status.version is None else str(status.version)
        lines.append(f"{status.table:<26} {version:>8} {status.rows:>12,}  {status.location}")
    lines.append("")
    # A file source counts its deliveries (one per file), an API source its request windows.
    header = f"{'source':<14} {'last ingest (UTC)':<20} {'deliveries/windows':>18} {'rejected/failed':>15}"
    lines.append(f"{header} {'rows landed':>12}")
    for row in last_ingest(store):
        when = row["last_ingested_at"] or "-"  # formatted by Spark in the session time zone, UTC
        landed = row["rows_landed"] or 0
        counts = f"{row['deliveries']:>18} {row['rejections']:>15} {landed:>12,}"
        lines.append(f"{row['source']:<14} {when:<20} {counts}")
    return "\n".join(lines)
