"""Land a list-prices export in bronze. The export is a full snapshot: a change replaces the table."""

from __future__ import annotations

import logging
from dataclasses import replace

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pipelines.bronze import list_prices
from pipelines.bronze.ingest_log import LANDED, LogEntry, Run, append_entries, latest_entries
from pipelines.bronze.quarantine import held_deliveries
from pipelines.columns import file_name_of
from pipelines.config import ListPricesSource
from pipelines.logs import progress
from pipelines.sources.files import DeliveredFile, list_files, sha256_of
from pipelines.sources.list_prices import read_list_prices
from pipelines.sources.system_tables import read_table
from pipelines.storage import Replace, TableStore
from pipelines.tables import LIST_PRICES, QUARANTINE

log = logging.getLogger(__name__)


def _delivery(file: DeliveredFile) -> str:
    return f"list_prices/{file.name}"


def land_list_prices(spark: SparkSession, store: TableStore, source: ListPricesSource, run: Run) -> int | None:
    """Reload bronze `list_prices` when the table or export changed. Returns the new version, or None."""
    if source.table is not None:
        return _land_table(spark, store, source.table, run)
    assert source.path is not None
    return _land_export(spark, store, source.path, source.format, run)


def _land_table(spark: SparkSession, store: TableStore, table: str, run: Run) -> int | None:
    """The list-prices table is small: reload it when its rows differ from what bronze holds."""
    normalised = list_prices.normalise(read_table(spark, table))
    columns = ["price_start_time", "price_end_time", *list_prices.TEXT_COLUMNS, "pricing"]
    incoming = normalised.where(F.col(list_prices.REASON).isNull()).select(columns)
    current = store.read(LIST_PRICES).select(columns)
    if (
        store.version(LIST_PRICES) is not None
        and incoming.exceptAll(current).isEmpty()
        and current.exceptAll(incoming).isEmpty()
    ):
        return None
    delivery = f"list_prices/{table}"
    version, counts = _reload(store, normalised, F.lit(delivery), F.lit(None).cast("string"), run)
    read, bad = counts.get(delivery, (0, 0))
    entry = LogEntry(list_prices.SOURCE, delivery, table, read, 0, None, LANDED).with_counts(read, read - bad, bad)
    append_entries(store, run, [replace(entry, table_version=version)])
    return version


def _land_export(spark: SparkSession, store: TableStore, location: str, file_format: str, run: Run) -> int | None:
    """Reload when any export file was added, changed or removed."""
    files = [f for f in list_files(spark, location) if f.size > 0]
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
        log.warning("no list-prices export at %s: keeping the prices already landed", location)
        return None

    normalised = list_prices.normalise(read_list_prices(spark, [f.path for f in files], file_format))
    file_name = file_name_of(F.col("_source_file"))
    sha_map = F.create_map(*[F.lit(x) for f in files for x in (f.name, digests[f.path])])
    delivery = F.concat(F.lit("list_prices/"), file_name)
    version, counts = _reload(store, normalised, delivery, sha_map[file_name], run)
    entries = []
    for f in files:
        read, bad = counts.get(_delivery(f), (0, 0))
        entry = LogEntry(list_prices.SOURCE, _delivery(f), f.path, f.size, f.modified_ms, digests[f.path], LANDED)
        entries.append(replace(entry.with_counts(read, read - bad, bad), table_version=version))
    append_entries(store, run, entries)
    progress(
        f"{list_prices.SOURCE}: landed {len(files)} export files as version {version}",
        source=list_prices.SOURCE,
        files=len(files),
        version=version,
    )
    return version


def _reload(
    store: TableStore, normalised: DataFrame, delivery: Column, sha: Column, run: Run
) -> tuple[int, dict[str, tuple[int, int]]]:
    """Replace the list-prices quarantine and table; returns the version and (read, bad) per delivery."""
    normalised = normalised.withColumn("_delivery", delivery).persist(StorageLevel.MEMORY_AND_DISK)
    ingested_at = F.lit(run.started_at).cast("timestamp")
    try:
        bad = F.col(list_prices.REASON).isNotNull()
        counts = {
            row._delivery: (row.read, row.bad or 0)
            for row in normalised.groupBy("_delivery")
            .agg(F.count(F.lit(1)).alias("read"), F.sum(bad.cast("long")).alias("bad"))
            .collect()
        }
        quarantined = normalised.where(bad).select(
            F.lit(list_prices.SOURCE).alias("source"),
            F.col("_delivery").alias("delivery"),
            F.col("_source_file").alias("source_file"),
            F.col("_raw").alias("raw_record"),
            F.col(list_prices.REASON).alias("reason"),
            sha.alias("_source_sha256"),
            ingested_at.alias("_ingested_at"),
        )
        if any(bad_rows for _, bad_rows in counts.values()) or held_deliveries(store, list_prices.SOURCE):
            own_partition = Replace.where([{"source": list_prices.SOURCE}])
            store.write(QUARANTINE, quarantined, own_partition, {"run_id": run.run_id})
        landed = normalised.where(~bad).select(
            "price_start_time",
            "price_end_time",
            *list_prices.TEXT_COLUMNS,
            "pricing",
            F.lit(list_prices.SOURCE).alias("_source"),
            "_source_file",
            sha.alias("_source_sha256"),
            ingested_at.alias("_ingested_at"),
        )
        version = store.write(
            LIST_PRICES, landed, Replace.all(), {"run_id": run.run_id, "changed": {"everything": True}}
        )
    finally:
        normalised.unpersist()
    return version, counts
