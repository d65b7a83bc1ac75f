"""Land legacy usage CSV deliveries in bronze: new or changed files only, one commit per table.

Order of commits, each safe to redo: quarantine (replaces the deliveries' quarantine partitions),
`legacy_usage` (replaces the deliveries' workspace/month partitions), then the ingest log. A run
stopped in between re-lands the same files next time and converges to the same tables.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pipelines.bronze import legacy_usage
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
from pipelines.bronze.quarantine import counts_by_delivery, held_deliveries, quarantined_rows
from pipelines.config.pipeline import DEFAULT_MAX_RECORD_BYTES
from pipelines.incremental import date_ranges
from pipelines.logs import fields
from pipelines.sources.files import DeliveredFile, RecordLimit, first_line, list_files
from pipelines.sources.legacy_csv import read_legacy_csv
from pipelines.storage import Replace, TableStore
from pipelines.tables import LEGACY_CSV_COLUMNS, LEGACY_USAGE, QUARANTINE

log = logging.getLogger(__name__)

EXPECTED_NAME = "workspaceId=<id>-usageMonth=<yyyy-mm>.csv"


def _entry(file: DeliveredFile, sha: str | None, status: str, error: str | None = None) -> LogEntry:
    return LogEntry(
        source=legacy_usage.SOURCE,
        delivery=legacy_usage.delivery_key(file.name),
        path=file.path,
        size=file.size,
        modified_ms=file.modified_ms,
        sha256=sha,
        status=status,
        error=error,
    )


def land_legacy_usage(
    spark: SparkSession,
    store: TableStore,
    location: str,
    run: Run,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> LandingResult:
    """Land every new or changed delivery under `location`; reject malformed files whole, and files that
    cannot be read or hold a record longer than `max_record_bytes` (such a record is never read into memory)."""
    result = LandingResult()
    latest = latest_entries(store, legacy_usage.SOURCE)
    files = list_files(spark, location)
    changes = changed_files(
        spark,
        files,
        latest,
        lambda f: legacy_usage.delivery_key(f.name),
        legacy_usage.SOURCE,
        RecordLimit(max_record_bytes),
    )
    result.unchanged, result.rejected = changes.unchanged, changes.refused
    accepted: list[tuple[DeliveredFile, str]] = []
    for file, sha in changes.changed:
        problem = None
        if not legacy_usage.FILE_NAME.match(file.name):
            problem = f"file name does not match {EXPECTED_NAME}"
        else:
            problem = legacy_usage.header_problem(first_line(spark, file))
        if problem:
            log.warning("rejected %s: %s", file.name, problem)
            result.rejected.append(_entry(file, sha, REJECTED, problem))
        else:
            accepted.append((file, sha))
    if accepted:
        entries, result.bronze_version = _land(spark, store, accepted, run, max_record_bytes)
        for entry in entries:
            result.record(entry)
    append_entries(store, run, result.landed + result.rejected)
    progress_landed(legacy_usage.SOURCE, result)
    return result


def _land(
    spark: SparkSession, store: TableStore, accepted: list[tuple[DeliveredFile, str]], run: Run, max_record_bytes: int
) -> tuple[list[LogEntry], int | None]:
    """Land the accepted files in one commit per table. A delivery whose every record was quarantined
    comes back rejected: its records go to the quarantine, and its month in bronze keeps what it held."""
    key = legacy_usage.delivery_key
    sha_map = F.create_map(*[F.lit(x) for file, sha in accepted for x in (key(file.name), sha)])
    sha = sha_map[F.col("delivery")]
    ingested_at = F.lit(run.started_at).cast("timestamp")

    validated = legacy_usage.validate(read_legacy_csv(spark, [f.path for f, _ in accepted], max_record_bytes))
    validated = validated.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = {row.delivery: row for row in counts_by_delivery(validated).collect()}
        deliveries = [key(f.name) for f, _ in accepted]
        quarantined = any(row.rows_quarantined for row in counts.values())
        if quarantined or held_deliveries(store, legacy_usage.SOURCE) & set(deliveries):
            store.write(
                QUARANTINE,
                quarantined_rows(validated, legacy_usage.SOURCE, LEGACY_CSV_COLUMNS, sha, ingested_at),
                Replace.where([{"source": legacy_usage.SOURCE, "delivery": d} for d in deliveries]),
                {"run_id": run.run_id, "changed": {"deliveries": deliveries}},
            )
        nothing_good = {d for d, row in counts.items() if row.rows_read and not row.rows_landed}
        partitions = [_partition(file) for file, _ in accepted if key(file.name) not in nothing_good]
        version = None
        if partitions:
            landed = legacy_usage.landed_rows(validated, sha, ingested_at)
            version = store.write(
                LEGACY_USAGE,
                landed,
                Replace.where(partitions),
                {"run_id": run.run_id, "changed": _changed(store, partitions, landed)},
            )
    finally:
        validated.unpersist()
    entries = []
    for file, digest in accepted:
        row = counts.get(key(file.name))
        entry = _entry(file, digest, LANDED)
        if row is not None:
            entry = entry.with_counts(row.rows_read, row.rows_landed, row.rows_quarantined)
        entries.append(replace(entry, table_version=version).rejected_when_nothing_landed())
        log.info(
            "landed %s: %s rows read = %s landed + %s quarantined, replacing the partition %s",
            file.name,
            entry.rows_read,
            entry.rows_landed,
            entry.rows_quarantined,
            _partition(file),
        )
    return entries, version


def _changed(store: TableStore, partitions: list[dict[str, str]], landed: DataFrame) -> dict[str, list[str]]:
    """The usage dates whose rows the landing changes, for silver and gold to recompute: the rows of the
    partitions it replaces (none for a first delivery) against the new ones. A date that cannot be told
    (an old row whose timestamp no longer parses) marks its partition's whole month."""
    changed = legacy_usage.changed_usage_dates(store.read(LEGACY_USAGE, partitions), landed).collect()
    dates = sorted(row.usage_date.isoformat() for row in changed if row.usage_date is not None)
    months = sorted({p["usage_month"] for p in partitions}) if any(r.usage_date is None for r in changed) else []
    log.info(
        "landing %s changes rows on usage dates %s",
        ", ".join(f"{p['workspace_id']}/{p['usage_month']}" for p in partitions),
        date_ranges(date.fromisoformat(d) for d in dates) + "".join(f", all of {m}" for m in months),
        extra=fields(usage_dates=dates, usage_months=months),
    )
    return {"usage_months": months, "usage_dates": dates}


def _partition(file: DeliveredFile) -> dict[str, str]:
    """The bronze partition a delivery replaces, from its (already checked) file name."""
    match = legacy_usage.FILE_NAME.match(file.name)
    assert match is not None
    return {"workspace_id": match.group(1), "usage_month": match.group(2)}
