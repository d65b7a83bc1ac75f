"""The ingest log: one row per delivery landed or rejected, read back to skip unchanged files."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession

from pipelines.logs import progress, redact
from pipelines.sources.files import REFUSALS, DeliveredFile, RecordLimit, check_files
from pipelines.storage import TableStore
from pipelines.tables import INGEST_LOG

LANDED = "landed"
REJECTED = "rejected"
FAILED = "failed"  # an API request window that could not be fetched; nothing of it was landed
UNCHANGED = "unchanged"  # an API request window answered exactly as the last time it was landed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Run:
    """One pipeline run: its id and the instant its rows are stamped with."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class LogEntry:
    """What happened to one delivery in one run."""

    source: str
    delivery: str
    path: str
    size: int
    modified_ms: int
    sha256: str | None
    status: str
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    table_version: int | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    pages: int | None = None

    def __post_init__(self) -> None:
        if self.error is not None:  # the log is a table anyone may read, and the error is printed: no secrets
            object.__setattr__(self, "error", redact(self.error))

    def same_file(self, file: DeliveredFile) -> bool:
        return (self.path, self.size, self.modified_ms) == (file.path, file.size, file.modified_ms)

    @property
    def refused(self) -> bool:
        """Rejected before it was read (unreadable, or a record over max_record_bytes): worth checking again, since
        neither a permission fix nor a higher limit changes the file's size, modification time or content."""
        return self.status == REJECTED and (self.error or "").startswith(REFUSALS)

    def rejected_when_nothing_landed(self) -> LogEntry:
        """A landed delivery whose every record was quarantined counts as rejected (its rows are in the quarantine)."""
        if self.status != LANDED or not self.rows_read or self.rows_landed:
            return self
        return replace(self, status=REJECTED, error=f"all {self.rows_read:,} records quarantined")

    def with_counts(self, read: int, landed: int, quarantined: int) -> LogEntry:
        return replace(self, rows_read=read, rows_landed=landed, rows_quarantined=quarantined)


@dataclass
class LandingResult:
    """What landing one source did in a run."""

    landed: list[LogEntry] = field(default_factory=list)
    rejected: list[LogEntry] = field(default_factory=list)
    unchanged: int = 0
    bronze_version: int | None = None

    def record(self, entry: LogEntry) -> None:
        """Count a delivery's entry as landed or rejected."""
        (self.rejected if entry.status == REJECTED else self.landed).append(entry)


@dataclass
class FileChanges:
    """What the files of a source are compared with the log: changed (with sha256), refused, unchanged."""

    changed: list[tuple[DeliveredFile, str]] = field(default_factory=list)
    refused: list[LogEntry] = field(default_factory=list)  # unreadable, or a record longer than allowed
    unchanged: int = 0


def changed_files(
    spark: SparkSession,
    files: list[DeliveredFile],
    latest: dict[str, LogEntry],
    key: Callable[[DeliveredFile], str],
    source: str,
    limit: RecordLimit | None = None,
) -> FileChanges:
    """Files whose content differs from the last one logged for their delivery, with their sha256.

    A file with the logged path, size and modification time is taken as unchanged without reading it.
    A changed file that cannot be read, or holds a record longer than `limit`, is refused: a rejected
    log entry naming why, while the other files go on.
    """
    maybe_changed = []
    for file in files:
        previous = latest.get(key(file))
        if previous is not None and previous.same_file(file) and not previous.refused:
            log.info("skipping %s: same path, size and modification time as when it was %s", file.path, previous.status)
        else:
            maybe_changed.append(file)
    if maybe_changed:
        size = sum(f.size for f in maybe_changed)
        progress(
            f"{source}: reading the sha256 of {len(maybe_changed)} new or touched files ({size / 1e6:,.1f} MB)",
            source=source,
            files=len(maybe_changed),
            bytes=size,
        )
    digests = check_files(spark, maybe_changed, limit)
    result = FileChanges()
    for file in maybe_changed:
        previous, digest = latest.get(key(file)), digests[file.path]
        if previous is None:
            log.info("%s: new delivery %s", file.path, key(file))
        elif (
            digest.sha256 is not None
            and previous.sha256 == digest.sha256
            and (not previous.refused or previous.error == digest.problem)
        ):
            log.info("skipping %s: touched, but its content (sha256) is what was %s", file.path, previous.status)
            continue
        else:
            log.info("%s: content changed since it was %s; it replaces that delivery", file.path, previous.status)
        if digest.problem is not None:
            log.warning("rejected %s: %s", file.path, digest.problem)
            result.refused.append(
                LogEntry(
                    source,
                    key(file),
                    file.path,
                    file.size,
                    file.modified_ms,
                    digest.sha256,
                    REJECTED,
                    error=digest.problem,
                )
            )
        elif digest.sha256 is not None:
            result.changed.append((file, digest.sha256))
    result.unchanged = len(files) - len(result.changed) - len(result.refused)
    progress(
        f"{source}: {len(files)} files, {len(result.changed)} new or changed, {len(result.refused)} unreadable"
        f" or refused, {result.unchanged} unchanged",
        source=source,
        files=len(files),
        changed=len(result.changed),
        refused=len(result.refused),
        unchanged=result.unchanged,
    )
    return result


def progress_landed(source: str, result: LandingResult) -> None:
    """One progress line for what a source's landing did: deliveries, and rows read = landed + quarantined."""
    if not (result.landed or result.rejected):
        return
    read = sum(e.rows_read for e in result.landed)
    landed = sum(e.rows_landed for e in result.landed)
    quarantined = sum(e.rows_quarantined for e in result.landed)
    progress(
        f"{source}: {len(result.landed)} deliveries landed, {len(result.rejected)} rejected:"
        f" {read:,} rows read = {landed:,} landed + {quarantined:,} quarantined",
        source=source,
        deliveries_landed=len(result.landed),
        deliveries_rejected=len(result.rejected),
        rows_read=read,
        rows_landed=landed,
        rows_quarantined=quarantined,
    )


def _epoch_ms(value: datetime) -> int:
    return int(_utc(value).timestamp() * 1000)


def latest_entries(store: TableStore, source: str) -> dict[str, LogEntry]:
    """The newest log entry per delivery of a source (the log is small: one row per change)."""
    latest: dict[str, dict[str, Any]] = {}
    for row in store.read_rows(INGEST_LOG):
        if row["source"] != source:
            continue
        seen = latest.get(row["delivery"])
        if seen is None or (row["ingested_at"], row["status"]) >= (seen["ingested_at"], seen["status"]):
            latest[row["delivery"]] = row
    return {
        delivery: LogEntry(
            source=row["source"],
            delivery=delivery,
            path=row["path"],
            size=row["size"],
            modified_ms=_epoch_ms(row["modification_time"]),
            sha256=row["sha256"],
            status=row["status"],
            rows_read=row["rows_read"],
            rows_landed=row["rows_landed"],
            rows_quarantined=row["rows_quarantined"],
            error=row["error"],
            table_version=row["table_version"],
            window_start=row.get("window_start"),
            window_end=row.get("window_end"),
            pages=row.get("pages"),
        )
        for delivery, row in latest.items()
    }


def fetched_windows(store: TableStore, source: str, prefix: str) -> list[tuple[datetime, datetime]]:
    """(start, end) of every API window of a source landed under a delivery-key prefix (one fetch grain)."""
    return [
        (_utc(row["window_start"]), _utc(row["window_end"]))
        for row in store.read_rows(INGEST_LOG)
        if row["source"] == source
        and row["status"] == LANDED
        and str(row["delivery"]).startswith(prefix)
        and row.get("window_start") is not None
        and row.get("window_end") is not None
    ]


def _utc(value: datetime) -> datetime:
    """Timestamps read back from the log are naive UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def append_entries(store: TableStore, run: Run, entries: list[LogEntry]) -> None:
    """Record this run's deliveries (nothing is written when there are none)."""
    if not entries:
        return
    rows = [
        (
            run.run_id,
            e.source,
            e.delivery,
            e.path,
            e.size,
            datetime.fromtimestamp(e.modified_ms / 1000, UTC),
            e.sha256,
            e.status,
            e.rows_read,
            e.rows_landed,
            e.rows_quarantined,
            e.error,
            e.table_version,
            run.started_at,
            e.window_start,
            e.window_end,
            e.pages,
        )
        for e in entries
    ]
    store.append_rows(INGEST_LOG, rows, {"run_id": run.run_id})
