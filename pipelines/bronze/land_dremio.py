"""Fetch Dremio Cloud usage window by window and land each window in bronze in its own commits.

Per window, in this order: quarantine (replaces the window's days), `dremio_usage` (replaces the
window's days), then one ingest-log row. A window that fails is logged as failed and nothing of it
is written; the windows before it stay landed, and the next run starts from the last one logged.
A run stopped between the commits fetches the same days again and converges to the same tables.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from pipelines.bronze.dremio_usage import (
    SOURCE,
    delivery_key,
    plan_windows,
    sort_window,
    window_days,
    window_key,
)
from pipelines.bronze.ingest_log import (
    FAILED,
    LANDED,
    UNCHANGED,
    LandingResult,
    LogEntry,
    Run,
    append_entries,
    fetched_windows,
    latest_entries,
)
from pipelines.bronze.quarantine import replace_quarantined
from pipelines.config import DremioSource
from pipelines.errors import CredentialsRejected, SourceApiError
from pipelines.logs import progress
from pipelines.sources.dremio_api import DremioUsageClient, FetchedWindow, UsageWindow
from pipelines.storage import Replace, TableStore
from pipelines.tables import DREMIO_USAGE

log = logging.getLogger(__name__)


def client_for(source: DremioSource) -> DremioUsageClient:
    """A client authenticated with the token in the configured environment variable."""
    token = os.environ.get(source.token_variable, "").strip()
    if not token:
        raise CredentialsRejected(
            f"no Dremio token: set the environment variable {source.token_variable} to a personal access token"
        )
    return DremioUsageClient(
        source.base_url,
        token,
        token_variable=source.token_variable,
        page_size=source.page_size,
        max_pages=source.max_pages,
        retry_seconds=source.timeout_seconds,
    )


def _entry(source: DremioSource, window: UsageWindow, url: str, status: str) -> LogEntry:
    """The ingest-log row of one request window (its modification time is when it was fetched)."""
    return LogEntry(
        source=SOURCE,
        delivery=window_key(source, window),
        path=url,
        size=0,
        modified_ms=int(datetime.now(UTC).timestamp() * 1000),
        sha256=None,
        status=status,
        window_start=window.start,
        window_end=window.end,
    )


def land_dremio_usage(
    spark: SparkSession,
    store: TableStore,
    source: DremioSource,
    run: Run,
    client: DremioUsageClient | None = None,
    now: datetime | None = None,
) -> LandingResult:
    """Fetch every window from the last fetched hour (less `refetch_hours`) to now, and land each one.

    Raises SourceApiError for the first window that fails, after logging it; earlier windows stay landed.
    """
    fetched_until = max((end for _, end in fetched_windows(store, SOURCE, f"{source.grain}:")), default=None)
    windows = plan_windows(now or datetime.now(UTC), fetched_until, source)
    log.info(
        "dremio %s: %d windows from %s (%s)",
        source.grain,
        len(windows),
        windows[0].start if windows else "-",
        f"{source.refetch_hours} h before the last hour landed, {fetched_until}"
        if fetched_until
        else f"first fetch: the last {source.backfill_days} days",
    )
    latest = latest_entries(store, SOURCE)
    result = LandingResult()
    client = client or client_for(source)
    try:
        for number, window in enumerate(windows, 1):
            try:
                fetched = client.fetch(window, source.frequency, source.group_by)
            except SourceApiError as error:
                url = f"{source.base_url}/v0/usage"
                append_entries(store, run, [replace(_entry(source, window, url, FAILED), error=str(error))])
                raise
            previous = latest.get(window_key(source, window))
            if previous is not None and previous.status in (LANDED, UNCHANGED) and previous.sha256 == fetched.sha256:
                entry = replace(
                    _entry(source, window, fetched.url, UNCHANGED),
                    size=fetched.size,
                    sha256=fetched.sha256,
                    pages=fetched.pages,
                ).with_counts(previous.rows_read, previous.rows_landed, previous.rows_quarantined)
                append_entries(store, run, [entry])  # one log row per request window, even when nothing changed
                result.unchanged += 1
                progress(
                    f"dremio {source.grain} window {number}/{len(windows)} {window}: unchanged",
                    source=SOURCE,
                    window=str(window),
                    pages=fetched.pages,
                    status=UNCHANGED,
                )
                continue
            entry = _land_window(spark, store, source, run, fetched)
            result.landed.append(entry)
            result.bronze_version = entry.table_version
            progress(
                f"dremio {source.grain} window {number}/{len(windows)} {window}: {entry.pages} pages,"
                f" {entry.rows_read:,} objects = {entry.rows_landed:,} landed + {entry.rows_quarantined:,} quarantined",
                source=SOURCE,
                window=str(window),
                pages=entry.pages,
                rows_read=entry.rows_read,
                rows_landed=entry.rows_landed,
                rows_quarantined=entry.rows_quarantined,
            )
    finally:
        client.close()
    return result


def _land_window(
    spark: SparkSession, store: TableStore, source: DremioSource, run: Run, fetched: FetchedWindow
) -> LogEntry:
    sorted_window = sort_window(fetched, source, run.started_at)
    days = window_days(fetched.window)
    metadata = {"run_id": run.run_id, "window": str(fetched.window)}
    deliveries = [delivery_key(source, day) for day in days]
    replace_quarantined(store, SOURCE, deliveries, sorted_window.quarantined, metadata)
    version = store.write(
        DREMIO_USAGE,
        spark.createDataFrame(sorted_window.landed, DREMIO_USAGE.schema()),
        Replace.where(
            [
                {"group_by": source.group_by, "frequency": source.frequency, "usage_date": day.isoformat()}
                for day in days
            ]
        ),
        {**metadata, "changed": {"usage_dates": [day.isoformat() for day in days]}},
    )
    entry = replace(
        _entry(source, fetched.window, fetched.url, LANDED),
        size=fetched.size,
        sha256=fetched.sha256,
        rows_read=sorted_window.read,
        rows_landed=len(sorted_window.landed),
        rows_quarantined=len(sorted_window.quarantined),
        table_version=version,
        pages=fetched.pages,
    )
    append_entries(store, run, [entry])
    log.info(
        "landed Dremio window %s: %d read, %d quarantined",
        fetched.window,
        sorted_window.read,
        len(sorted_window.quarantined),
    )
    return entry
