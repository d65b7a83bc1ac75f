"""Download legacy billable usage month by month from the Account API into the landing folder.

Per month, in this order: download to a temporary file, check it is the usage CSV, split it into
per-workspace month files in the landing folder, quarantine records that belong to no workspace,
then log the month. The landing folder is then landed like any folder of delivered files. A month
that fails is logged as failed and leaves the landing folder as it was; the months before it stay.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines import source_names
from pipelines.bronze.ingest_log import FAILED, LANDED, LandingResult, LogEntry, Run, append_entries
from pipelines.bronze.quarantine import replace_quarantined
from pipelines.config import AccountApiSource
from pipelines.errors import SourceApiError
from pipelines.logs import progress
from pipelines.sources.account_api import Download, account_client, download_month, split_month
from pipelines.storage import TableStore
from pipelines.tables import INGEST_LOG

log = logging.getLogger(__name__)

SOURCE = source_names.ACCOUNT_API


def month_range(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` (YYYY-MM), inclusive."""
    year, month = (int(part) for part in first.split("-"))
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _month_start(month: str) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, 1, tzinfo=UTC)


def _next_month_start(month: str) -> datetime:
    start = _month_start(month)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def months_to_download(source: AccountApiSource, downloaded: set[str], today: date) -> list[str]:
    """Months never downloaded yet, plus the newest `refresh_months` (they grow until the month is over).

    Months after the current one are not asked for: they have no usage yet.
    """
    current = today.strftime("%Y-%m")
    months = month_range(source.start_month, min(source.end_month or current, current))
    recent = set(months[-source.refresh_months :]) if source.refresh_months else set()
    return [month for month in months if month not in downloaded or month in recent]


def downloaded_months(store: TableStore) -> set[str]:
    """Months whose download was landed by an earlier run (from the ingest log)."""
    return {
        str(row["delivery"]).removeprefix(f"{SOURCE}:")
        for row in store.read_rows(INGEST_LOG)
        if row["source"] == SOURCE and row["status"] == LANDED
    }


def fetch_account_usage(
    spark: SparkSession,
    store: TableStore,
    source: AccountApiSource,
    account_id: str,
    run: Run,
    months: list[str] | None = None,
) -> LandingResult:
    """Download the given months (default: `months_to_download`) into the landing folder, one at a time.

    Raises SourceApiError for the first month that fails, after logging it; earlier months stay in landing.
    """
    if months is None:
        downloaded = downloaded_months(store)
        months = months_to_download(source, downloaded, datetime.now(UTC).date())
        log.info(
            "account-api months to download: %s (never downloaded: %s; the newest %d are re-downloaded every run)",
            ", ".join(months) or "none",
            ", ".join(m for m in months if m not in downloaded) or "none",
            source.refresh_months,
        )
    else:
        log.info("account-api months to download, as asked: %s", ", ".join(months))
    landing = Path(source.landing)
    landing.mkdir(parents=True, exist_ok=True)
    result = LandingResult()
    if not months:
        return result
    client = account_client(account_id, source.host, source.timeout_seconds)
    url = f"{client.config.host}/api/2.0/accounts/{account_id}/usage/download"
    with tempfile.TemporaryDirectory(prefix="account-api-") as scratch:
        for number, month in enumerate(months, 1):
            query = f"?start_month={month}&end_month={month}&personal_data={str(source.personal_data).lower()}"
            entry = LogEntry(
                source=SOURCE,
                delivery=f"{SOURCE}:{month}",
                path=url + query,
                size=0,
                modified_ms=int(datetime.now(UTC).timestamp() * 1000),
                sha256=None,
                status=LANDED,
                window_start=_month_start(month),
                window_end=_next_month_start(month),
                pages=1,
            )
            progress(f"account-api {month} ({number}/{len(months)}): downloading", source=SOURCE, month=month)
            try:
                download = download_month(client, account_id, month, source.personal_data, Path(scratch))
                split = split_month(download, landing)
            except SourceApiError as error:
                append_entries(store, run, [replace(entry, status=FAILED, error=str(error))])
                raise
            entry = _quarantine_unassigned(store, run, entry, download, split.unassigned)
            entry = replace(entry, size=download.size, sha256=download.sha256)
            entry = entry.with_counts(split.records, split.records - len(split.unassigned), len(split.unassigned))
            append_entries(store, run, [entry])
            result.landed.append(entry)
            progress(
                f"account-api {month} ({number}/{len(months)}): {split.records:,} records,"
                f" {len(split.files)} workspaces, {download.size / 1e6:.1f} MB",
                source=SOURCE,
                month=month,
                rows_read=split.records,
                workspaces=len(split.files),
                bytes=download.size,
            )
            download.path.unlink(missing_ok=True)
    return result


def _quarantine_unassigned(
    store: TableStore,
    run: Run,
    entry: LogEntry,
    download: Download,
    unassigned: list[tuple[str, str]],
) -> LogEntry:
    """Records that name no workspace go to quarantine under the month's download (replacing earlier ones)."""
    rows = [
        (SOURCE, entry.delivery, entry.path, raw, reason, download.sha256, run.started_at) for raw, reason in unassigned
    ]
    version = replace_quarantined(store, SOURCE, [entry.delivery], rows, {"run_id": run.run_id})
    if version is None:
        return entry
    log.warning("quarantined %d records of the %s download that name no workspace", len(unassigned), download.month)
    return replace(entry, table_version=version)
