"""Land a list-prices export in bronze. The export is a full snapshot: a change replaces the table."""

from __future__ import annotations

import logging
from dataclasses import replace

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pipelines.bronze import list_prices
from pipelines.bronze.ingest_log import LANDED, LogEntry, Run, append_entries, latest_entries
from pipelines.columns import file_name_of
from pipelines.config import ListPricesSource
from pipelines.sources.files import DeliveredFile, list_files, sha256_of
from pipelines.sources.list_prices import read_list_prices
from pipelines.storage import Replace, TableStore
from pipelines.tables import LIST_PRICES, QUARANTINE

log = logging.getLogger(__name__)


def _delivery(file: DeliveredFile) -> str:
    return f"list_prices/{file.name}"


def land_list_prices(spark: SparkSession, store: TableStore, source: ListPricesSource, run: Run) -> int | None:
    """Reload bronze `list_prices` when any export file was added, changed or removed.

    Returns the new bronze version, or None when the export is unchanged.
    """
    files = [f for f in list_files(spark, source.path) if f.size > 0]
    latest = latest_entries(store, list_prices.SOURCE)
    landed_before = max(
        (e.table_version for e in latest.values() if e.status == LANDED and e.table_version is not None), default=None
    )
    previous = {d for d, e in latest.items() if e.status == LANDED and e.table_version == landed_before}
    same_files = previous == {_delivery(f) for f in files}
    if same_files and all(_delivery(f) in latest and latest[_delivery(f)].same_file(f) for f in files):
        return None
    digests = sha256_of(spark, files)
    if same_files and all(getattr(latest.get(_delivery(f)), "sha256", None) == digests[f.path] for f in files):
        return None
    if not files:
        log.warning("no list-prices export at %s: keeping the prices already landed", source.path)
        return None

    normalised = list_prices.normalise(read_list_prices(spark, [f.path for f in files], source.format))
    normalised = normalised.persist(StorageLevel.MEMORY_AND_DISK)
    sha_map = F.create_map(*[F.lit(x) for f in files for x in (f.name, digests[f.path])])
    file_name = file_name_of(F.col("_source_file"))
    ingested_at = F.lit(run.started_at).cast("timestamp")
    try:
        bad = F.col(list_prices.REASON).isNotNull()
        counts = {
            row.name: row
            for row in normalised.groupBy(file_name.alias("name"))
            .agg(F.count(F.lit(1)).alias("read"), F.sum(bad.cast("long")).alias("bad"))
            .collect()
        }
        quarantined = normalised.where(bad).select(
            F.lit(list_prices.SOURCE).alias("source"),
            F.concat(F.lit("list_prices/"), file_name).alias("delivery"),
            F.col("_source_file").alias("source_file"),
            F.col("_raw").alias("raw_record"),
            F.col(list_prices.REASON).alias("reason"),
            sha_map[file_name].alias("_source_sha256"),
            ingested_at.alias("_ingested_at"),
        )
        store.write(QUARANTINE, quarantined, Replace.where([{"source": list_prices.SOURCE}]), {"run_id": run.run_id})
        landed = normalised.where(~bad).select(
            "price_start_time",
            "price_end_time",
            *list_prices.TEXT_COLUMNS,
            "pricing",
            F.lit(list_prices.SOURCE).alias("_source"),
            "_source_file",
            sha_map[file_name].alias("_source_sha256"),
            ingested_at.alias("_ingested_at"),
        )
        version = store.write(
            LIST_PRICES, landed, Replace.all(), {"run_id": run.run_id, "changed": {"everything": True}}
        )
    finally:
        normalised.unpersist()
    entries = []
    for f in files:
        row = counts.get(f.name)
        read, bad_rows = (row.read, row.bad or 0) if row else (0, 0)
        entry = LogEntry(list_prices.SOURCE, _delivery(f), f.path, f.size, f.modified_ms, digests[f.path], LANDED)
        entries.append(replace(entry.with_counts(read, read - bad_rows, bad_rows), table_version=version))
    append_entries(store, run, entries)
    log.info("landed list prices from %d file(s) as bronze version %d", len(files), version)
    return version
