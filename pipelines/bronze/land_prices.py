"""Land a price table or its export in bronze: list prices, and the account's own (contracted) prices.

Both have the `system.billing.list_prices` shape and are full snapshots: a change replaces the bronze table,
an unchanged table or export changes nothing. Each keeps its own ingest-log entries and quarantine partition.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pipelines import source_names
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
from pipelines.tables import ACCOUNT_PRICES, LIST_PRICES, QUARANTINE, TableSpec

log = logging.getLogger(__name__)


def land_list_prices(spark: SparkSession, store: TableStore, source: ListPricesSource, run: Run) -> int | None:
    """Reload bronze `list_prices` when the table or export changed. Returns the new version, or None."""
    return _land(spark, store, source, run, LIST_PRICES, source_names.LIST_PRICES)


def land_account_prices(spark: SparkSession, store: TableStore, source: ListPricesSource, run: Run) -> int | None:
    """Reload bronze `account_prices` when `system.billing.account_prices` or its export changed."""
    return _land(spark, store, source, run, ACCOUNT_PRICES, source_names.ACCOUNT_PRICES)


def _land(
    spark: SparkSession, store: TableStore, source: ListPricesSource, run: Run, target: TableSpec, name: str
) -> int | None:
    if source.table is not None:
        return _land_table(spark, store, source.table, run, target, name)
    assert source.path is not None
    return _land_export(spark, store, source.path, source.format, run, target, name)


def _land_table(
    spark: SparkSession, store: TableStore, table: str, run: Run, target: TableSpec, name: str
) -> int | None:
    """A price table is small: reload it when its rows differ from what bronze holds."""
    normalised = list_prices.normalise(read_table(spark, table))
    columns = ["price_start_time", "price_end_time", *list_prices.TEXT_COLUMNS, "pricing"]
    incoming = normalised.where(F.col(list_prices.REASON).isNull()).select(columns)
    current = store.read(target).select(columns)
    if (
        store.version(target) is not None
        and incoming.exceptAll(current).isEmpty()
        and current.exceptAll(incoming).isEmpty()
    ):
        return None
    delivery = f"{name}/{table}"
    version, counts = _reload(store, normalised, F.lit(delivery), F.lit(None).cast("string"), run, target, name)
    read, bad = counts.get(delivery, (0, 0))
    entry = LogEntry(name, delivery, table, read, 0, None, LANDED).with_counts(read, read - bad, bad)
    append_entries(store, run, [replace(entry, table_version=version)])
    return version


def _land_export(
    spark: SparkSession, store: TableStore, location: str, file_format: str, run: Run, target: TableSpec, name: str
) -> int | None:
    """Reload when any export file was added, changed or removed."""

    def delivery_of(file: DeliveredFile) -> str:
        return f"{name}/{file.name}"

    files = [f for f in list_files(spark, location) if f.size > 0]
    latest = latest_entries(store, name)
    landed_before = max(
        (e.table_version for e in latest.values() if e.status == LANDED and e.table_version is not None), default=None
    )
    previous = {d for d, e in latest.items() if e.status == LANDED and e.table_version == landed_before}
    same_files = previous == {delivery_of(f) for f in files}
    if same_files and all(delivery_of(f) in latest and latest[delivery_of(f)].same_file(f) for f in files):
        return None
    digests = sha256_of(spark, files)
    if same_files and all(getattr(latest.get(delivery_of(f)), "sha256", None) == digests[f.path] for f in files):
        return None
    if not files:
        log.warning("no %s export at %s: keeping the prices already landed", name, location)
        return None

    normalised = list_prices.normalise(read_list_prices(spark, [f.path for f in files], file_format))
    file_name = file_name_of(F.col("_source_file"))
    sha_map = F.create_map(*[F.lit(x) for f in files for x in (f.name, digests[f.path])])
    delivery = F.concat(F.lit(f"{name}/"), file_name)
    version, counts = _reload(store, normalised, delivery, sha_map[file_name], run, target, name)
    entries = []
    for f in files:
        read, bad = counts.get(delivery_of(f), (0, 0))
        entry = LogEntry(name, delivery_of(f), f.path, f.size, f.modified_ms, digests[f.path], LANDED)
        entries.append(replace(entry.with_counts(read, read - bad, bad), table_version=version))
    append_entries(store, run, entries)
    progress(
        f"{name}: landed {len(files)} export files as version {version}",
        source=name,
        files=len(files),
        version=version,
    )
    return version


def _reload(
    store: TableStore, normalised: DataFrame, delivery: Column, sha: Column, run: Run, target: TableSpec, name: str
) -> tuple[int, dict[str, tuple[int, int]]]:
    """Replace the source's quarantine partition and bronze table; returns the version and (read, bad) per delivery."""
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
            F.lit(name).alias("source"),
            F.col("_delivery").alias("delivery"),
            F.col("_source_file").alias("source_file"),
            F.col("_raw").alias("raw_record"),
            F.col(list_prices.REASON).alias("reason"),
            sha.alias("_source_sha256"),
            ingested_at.alias("_ingested_at"),
        )
        if any(bad_rows for _, bad_rows in counts.values()) or held_deliveries(store, name):
            own_partition = Replace.where([{"source": name}])
            store.write(QUARANTINE, quarantined, own_partition, {"run_id": run.run_id})
        landed = normalised.where(~bad).select(
            "price_start_time",
            "price_end_time",
            *list_prices.TEXT_COLUMNS,
            "pricing",
            F.lit(name).alias("_source"),
            "_source_file",
            sha.alias("_source_sha256"),
            ingested_at.alias("_ingested_at"),
        )
        version = store.write(target, landed, Replace.all(), {"run_id": run.run_id, "changed": {"everything": True}})
    finally:
        normalised.unpersist()
    return version, counts
