"""What the tables hold now: versions, row counts and the last ingest per source.

Computed from the Delta log and the ingest log read as Arrow, so on local delta-rs tables `status`
starts no JVM (`pipelines.storage.open_reader`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipelines.storage import TableReader
from pipelines.tables import ALL_TABLES, INGEST_LOG

LOG_COLUMNS = ["source", "delivery", "status", "ingested_at", "rows_landed", "rows_quarantined"]


@dataclass(frozen=True)
class TableStatus:
    table: str
    location: str
    version: int | None
    rows: int


def table_status(store: TableReader) -> list[TableStatus]:
    """Every table of the contract, existing or not, with its Delta version and row count."""
    statuses = []
    for table in ALL_TABLES:
        version = store.version(table)
        rows = 0 if version is None else store.row_count(table)
        statuses.append(TableStatus(table.key, store.location(table), version, rows))
    return statuses


def last_ingest(store: TableReader) -> list[dict[str, Any]]:
    """Per source: its last ingest, and its deliveries or API request windows as they stand now (latest of each)."""
    log = sorted(store.read_arrow(INGEST_LOG, LOG_COLUMNS).to_pylist(), key=lambda row: row["ingested_at"])
    latest: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    last_landed: dict[str, datetime] = {}
    for row in log:  # oldest first: the last row of a delivery is how it stands now
        latest[row["source"]][row["delivery"]] = row
        if row["status"] == "landed":
            last_landed[row["source"]] = row["ingested_at"]
    summaries = []
    for source, deliveries in sorted(latest.items()):
        rows = deliveries.values()
        summaries.append(
            {
                "source": source,
                "last_ingested_at": max(r["ingested_at"] for r in rows).strftime("%Y-%m-%d %H:%M:%S"),
                "deliveries": len(deliveries),
                "rejections": sum(1 for r in rows if _not_landed(r, last_landed.get(source))),
                "rows_landed": sum(r["rows_landed"] or 0 for r in rows),
                "rows_quarantined": sum(r["rows_quarantined"] or 0 for r in rows),
            }
        )
    return summaries


def _not_landed(row: dict[str, Any], last_landed: datetime | None) -> bool:
    """A delivery rejected as it stands now counts; a failed API window counts until a later window landed."""
    if row["status"] == "rejected":
        return True
    return row["status"] == "failed" and (last_landed is None or last_landed <= row["ingested_at"])


def format_status(store: TableReader) -> str:
    statuses = table_status(store)
    width = max(len(s.table) for s in statuses)
    lines = [f"{'table':<{width}} {'version':>8} {'rows':>12}  location"]
    for status in statuses:
        version = "-" if status.version is None else str(status.version)
        lines.append(f"{status.table:<{width}} {version:>8} {status.rows:>12,}  {status.location}")
    lines.append("")
    # A file source counts its deliveries (one per file), an API source its request windows.
    header = f"{'source':<14} {'last ingest (UTC)':<20} {'deliveries/windows':>18} {'rejected/failed':>15}"
    lines.append(f"{header} {'rows landed':>12}")
    for row in last_ingest(store):
        counts = f"{row['deliveries']:>18} {row['rejections']:>15} {row['rows_landed']:>12,}"
        lines.append(f"{row['source']:<14} {row['last_ingested_at']:<20} {counts}")
    return "\n".join(lines)
