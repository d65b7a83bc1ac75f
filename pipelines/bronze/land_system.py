"""Land `system.billing.usage` records in bronze: append-only, each record_id once.

Two kinds of delivery:
- exports in a landing folder: each new or changed file is a delivery (sha256 against the log);
- the table itself: records are read from `lookback_days` before the newest ingestion date already
  landed, and each ingestion date read is a delivery.

Order of commits, each safe to redo: quarantine (replaces the deliveries' quarantine partitions),
`system_usage` (appends records whose record_id bronze does not hold yet), then the ingest log. A
run stopped in between reads the same records next time; the record_id check keeps them single.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pipelines.bronze import system_usage
from pipelines.bronze.ingest_log import (
    LANDED,
    REJECTED,
    LandingResult,
    LogEntry,
    Run,
    append_entries,
    changed_files,
    latest_entries,
    progress_landed,
)
from pipelines.bronze.quarantine import counts_by_delivery, quarantined_rows
from pipelines.columns import normalised_path, normalised_path_column
from pipelines.config import SystemUsageSource
from pipelines.config.pipeline import DEFAULT_MAX_RECORD_BYTES
from pipelines.incremental import date_partitions
from pipelines.logs import progress
from pipelines.sources.files import DeliveredFile, RecordLimit, first_line, list_files, relative_name
from pipelines.sources.system_tables import read_exports, read_table
from pipelines.storage import Replace, TableStore
from pipelines.tables import QUARANTINE, SYSTEM_USAGE, SYSTEM_USAGE_COLUMNS

log = logging.getLogger(__name__)

WATERMARK = "max_ingestion_date"
Counts = tuple[int, int, int]  # records read, landed, quarantined


def land_system_usage(
    spark: SparkSession,
    store: TableStore,
    source: SystemUsageSource,
    run: Run,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> LandingResult:
    """Land what is new in the system usage table or its exports (text exports: no record over `max_record_bytes`)."""
    if source.table is not None:
        return _land_table(spark, store, source.table, source.lookback_days, run)
    assert source.path is not None
    limit = None if source.format == "parquet" else RecordLimit(max_record_bytes, quoted=source.format == "csv")
    return _land_exports(spark, store, source.path, source.format, run, limit)


def _land_exports(
    spark: SparkSession, store: TableStore, location: str, file_format: str, run: Run, limit: RecordLimit | None
) -> LandingResult:
    result = LandingResult()
    latest = latest_entries(store, system_usage.SOURCE)

    def key(file: DeliveredFile) -> str:
        return f"{system_usage.SOURCE}/{relative_name(location, file)}"

    files = list_files(spark, location, recursive=True)
    changes = changed_files(spark, files, latest, key, system_usage.SOURCE, limit)
    result.unchanged, result.rejected, changed = changes.unchanged, changes.refused, changes.changed
    if not changed:
        append_entries(store, run, result.rejected)
        return result
    groups: dict[tuple[str, ...], list[tuple[DeliveredFile, str]]] = {}
    for file, sha in changed:
        columns: tuple[str, ...] = ()
        if file_format == "csv":
            columns = system_usage.header_columns(first_line(spark, file))
            missing = system_usage.missing_columns(list(columns))
            if missing:
                entry = _file_entry(key(file), file, sha, REJECTED, "missing columns: " + ", ".join(missing))
                log.warning("rejected %s: %s", file.path, entry.error)
                result.rejected.append(entry)
                continue
        groups.setdefault(columns, []).append((file, sha))
    accepted = [pair for group in groups.values() for pair in group]
    if not accepted:
        append_entries(store, run, result.rejected)
        return result

    deliveries = {normalised_path(f.path): key(f) for f, _ in accepted}
    shas = {key(f): sha for f, sha in accepted}
    delivery = F.create_map(*[F.lit(x) for pair in deliveries.items() for x in pair])[
        normalised_path_column(F.col("_source_file"))
    ]
    raw = None
    for group in groups.values():
        text = system_usage.as_text(read_exports(spark, [f.path for f, _ in group], file_format), delivery)
        raw = text if raw is None else raw.unionByName(text)
    assert raw is not None
    sha_column = F.create_map(*[F.lit(x) for pair in shas.items() for x in pair])[F.col("delivery")]
    version, counts = _land(store, raw, sha_column, run, latest, list(shas))
    for file, digest in accepted:
        row = counts.get(key(file))
        if row is None:
            entry = _file_entry(key(file), file, digest, REJECTED, f"no records: empty or not a {file_format} file")
            log.warning("rejected %s: %s", file.path, entry.error)
            result.rejected.append(entry)
            continue
        entry = replace(_file_entry(key(file), file, digest, LANDED).with_counts(*row), table_version=version)
        result.record(entry.rejected_when_nothing_landed())
    result.bronze_version = version
    append_entries(store, run, result.landed + result.rejected)
    progress_landed(system_usage.SOURCE, result)
    return result


def _file_entry(delivery: str, file: DeliveredFile, sha: str, status: str, error: str | None = None) -> LogEntry:
    return LogEntry(system_usage.SOURCE, delivery, file.path, file.size, file.modified_ms, sha, status, error=error)


def _land_table(spark: SparkSession, store: TableStore, table: str, lookback_days: int, run: Run) -> LandingResult:
    result = LandingResult()
    watermark = _watermark(store)
    since = None if watermark is None else date.fromisoformat(watermark) - timedelta(days=lookback_days)
    log.info("reading %s%s", table, "" if since is None else f" ingested since {since}")
    raw = read_table(spark, table, since)
    delivery = F.concat(F.lit(f"{table}@ingestion_date="), F.col("ingestion_date").cast("string"))
    text = system_usage.as_text(raw, delivery)
    latest = latest_entries(store, system_usage.SOURCE)

    def is_new(delivery_key: str, counts: Counts) -> bool:
        seen = latest.get(delivery_key)
        return seen is None or (seen.rows_read, seen.rows_quarantined) != (counts[0], counts[2])

    version, counts = _land(store, text, F.lit(None).cast("string"), run, latest, None, is_new)
    for delivery_key, row in sorted(counts.items()):
        if is_new(delivery_key, row):
            entry = LogEntry(system_usage.SOURCE, delivery_key, table, row[0], 0, None, LANDED).with_counts(*row)
            result.landed.append(replace(entry, table_version=version))
    result.unchanged = len(counts) - len(result.landed)
    result.bronze_version = version
    append_entries(store, run, result.landed)
    return result


def _watermark(store: TableStore) -> str | None:
    """The newest ingestion date landed so far, as the last bronze commit recorded it."""
    last = store.last_commit(SYSTEM_USAGE)
    return last.metadata.get(WATERMARK) if last else None


def _land(
    store: TableStore,
    text: DataFrame,
    sha: Column,
    run: Run,
    latest: dict[str, LogEntry],
    deliveries: list[str] | None,
    is_new: Callable[[str, Counts], bool] | None = None,
) -> tuple[int | None, dict[str, Counts]]:
    """Validate, quarantine and append new records. Returns the new bronze version (None: nothing new) and
    the counts per delivery.

    `deliveries` names the deliveries whose quarantine partitions are replaced (None: those `is_new` accepts);
    `latest` is the ingest log's newest entry per delivery, which says whose quarantine must be cleared.
    """
    ingested_at = F.lit(run.started_at).cast("timestamp")
    validated = system_usage.validate(text).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        count_rows = counts_by_delivery(validated).collect()
        counts = {r.delivery: (r.rows_read, r.rows_landed, r.rows_quarantined) for r in count_rows}
        if deliveries is None:
            assert is_new is not None
            deliveries = [d for d, c in counts.items() if is_new(d, c)]
        quarantined_now = any(counts.get(d, (0, 0, 0))[2] for d in deliveries)
        quarantined_before = any(latest[d].rows_quarantined for d in deliveries if d in latest)
        if deliveries and (quarantined_now or quarantined_before):
            store.write(
                QUARANTINE,
                quarantined_rows(
                    validated.where(F.col("delivery").isin(deliveries)),
                    system_usage.SOURCE,
                    SYSTEM_USAGE_COLUMNS,
                    sha,
                    ingested_at,
                ),
                Replace.where([{"source": system_usage.SOURCE, "delivery": d} for d in deliveries]),
                {"run_id": run.run_id, "changed": {"deliveries": deliveries}},
            )
        landed = system_usage.landed_rows(validated, sha, ingested_at)
        dates = sorted(r.usage_date for r in landed.select("usage_date").distinct().collect())
        existing = store.read(SYSTEM_USAGE, date_partitions(dates)) if dates else store.empty(SYSTEM_USAGE)
        new = system_usage.new_records(landed, existing).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            summary = new.groupBy("usage_date").agg(F.count(F.lit(1)).alias("n"), F.max("ingestion_date").alias("m"))
            per_date = summary.collect()
            version = None
            if per_date:
                marks = [r.m.isoformat() for r in per_date] + [_watermark(store) or ""]
                metadata = {
                    "run_id": run.run_id,
                    "changed": {"usage_dates": sorted(r.usage_date.isoformat() for r in per_date)},
                    WATERMARK: max(marks),
                }
                version = store.write(SYSTEM_USAGE, new, Replace.nothing(), metadata)
                appended = sum(r.n for r in per_date)
                progress(
                    f"{SYSTEM_USAGE}: appended {appended:,} new records for {len(per_date)} usage dates",
                    table=str(SYSTEM_USAGE),
                    rows=appended,
                    usage_dates=len(per_date),
                )
        finally:
            new.unpersist()
    finally:
        validated.unpersist()
    return version, counts
