"""Dremio usage objects -> bronze rows: which windows to fetch, and which objects land or are quarantined.

Each fetch window starts at a UTC midnight, so landing it replaces whole `usage_date` partitions: a
re-fetched day is replaced by what the API says now, and re-running never duplicates a row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines import source_names
from pipelines.columns import MAX_QUANTITY
from pipelines.config import DremioSource
from pipelines.config.apis import DREMIO_MAX_DAYS_BACK
from pipelines.sources.dremio_api import FetchedWindow, Number, UsageWindow

SOURCE = source_names.DREMIO
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$")
MAX_WINDOW = timedelta(days=90)  # the longest period one request may ask for
PERIOD = {"HOURLY": (timedelta(hours=1), "hour"), "DAILY": (timedelta(days=1), "day")}


def _midnight(instant: datetime) -> datetime:
    return instant.replace(hour=0, minute=0, second=0, microsecond=0)


def plan_windows(now: datetime, fetched_until: datetime | None, source: DremioSource) -> list[UsageWindow]:
    """Windows to fetch this run, oldest first, each at most 90 days and none reaching back more than a year.

    The first run goes `backfill_days` back; later runs start `refetch_hours` before the newest hour
    already fetched (usage arrives 1-2 hours late), always at a UTC midnight. The last window ends
    at the next full hour, so the hour in progress is fetched too and replaced by the next run.
    """
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    oldest = _midnight(now.astimezone(UTC) - timedelta(days=DREMIO_MAX_DAYS_BACK)) + timedelta(days=1)
    if fetched_until is None:
        start = now - timedelta(days=source.backfill_days)
    else:
        start = min(fetched_until, end) - timedelta(hours=source.refetch_hours)
    start = max(_midnight(start.astimezone(UTC)), oldest)
    windows = []
    while start < end:
        windows.append(UsageWindow(start, min(start + MAX_WINDOW, end)))
        start = windows[-1].end
    return windows


def window_days(window: UsageWindow) -> list[date]:
    """The usage dates a window covers (it starts at midnight, so it holds each of them whole so far)."""
    days, day = [], window.start.date()
    while datetime(day.year, day.month, day.day, tzinfo=UTC) < window.end:
        days.append(day)
        day += timedelta(days=1)
    return days


def delivery_key(source: DremioSource, day: date) -> str:
    """Quarantine partition of one fetched day, per grain."""
    return f"{source.grain}:{day.isoformat()}"


def window_key(source: DremioSource, window: UsageWindow) -> str:
    """The ingest-log key of one fetch window, prefixed by its grain."""
    return f"{source.grain}:{window}"


def raw_json(value: Any) -> str:
    """A parsed object written back as JSON with its numbers as sent."""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {raw_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(raw_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _instant(value: Any) -> datetime | None:
    """A UTC instant from ISO-8601 text with a zone (the form Spark parses too), else None."""
    if not isinstance(value, str) or isinstance(value, Number) or not _ISO_INSTANT.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def problem_with(item: dict[str, Any], window: UsageWindow, source: DremioSource) -> str | None:
    """Why one usage object cannot be landed, or None. The checks keep the DCU amount trustworthy."""
    if not isinstance(item.get("id"), str) or isinstance(item["id"], Number) or not item["id"].strip():
        return "missing id"
    if item.get("type") != source.group_by:
        return f"type {item.get('type')!r} is not the requested grouping {source.group_by}"
    start, end = _instant(item.get("startTime")), _instant(item.get("endTime"))
    if start is None:
        return "missing or unparseable startTime (expected ISO-8601 with a zone, such as 2024-01-05T17:00:00Z)"
    if end is None:
        return "missing or unparseable endTime (expected ISO-8601 with a zone, such as 2024-01-05T18:00:00Z)"
    length, name = PERIOD[source.frequency]
    if end - start != length:
        return f"startTime to endTime is not one {name}"
    if not window.start <= start < window.end:
        return f"startTime outside the requested window {window}"
    usage = item.get("usage")
    if not isinstance(usage, Number):
        return "missing usage, or usage is not a JSON number"
    try:
        amount = Decimal(usage)
    except InvalidOperation:
        return "unparseable usage"
    if not amount.is_finite() or amount < 0:
        return "usage is negative or not finite"
    if amount >= MAX_QUANTITY:
        return f"usage out of range (at least {MAX_QUANTITY:.0e})"
    return None


@dataclass
class SortedWindow:
    """One fetched window split into bronze rows and quarantine rows, in their tables' column order."""

    landed: list[tuple[Any, ...]] = field(default_factory=list)
    quarantined: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def read(self) -> int:
        return len(self.landed) + len(self.quarantined)


def sort_window(fetched: FetchedWindow, source: DremioSource, ingested_at: datetime) -> SortedWindow:
    """Bronze `dremio_usage` rows for good objects, `quarantine` rows (with a reason) for the rest.

    An object repeated in one answer (same id and start time) is quarantined as a duplicate, so every
    object read is either landed or quarantined.
    """
    result, seen = SortedWindow(), set()
    for item in fetched.objects:
        reason = problem_with(item, fetched.window, source)
        start = _instant(item.get("startTime"))
        day = start.date() if reason is None and start is not None else fetched.window.start.date()
        if reason is None:
            key = (item["id"], start)
            if key in seen:
                reason = "duplicate of another object with this id and startTime in the same answer"
            seen.add(key)
        if reason is not None:
            result.quarantined.append(
                (
                    SOURCE,
                    delivery_key(source, day),
                    fetched.url,
                    raw_json(item),
                    reason,
                    fetched.sha256,
                    ingested_at,
                )
            )
            continue
        result.landed.append(
            (
                item["id"],
                item["type"],
                item["startTime"],
                item["endTime"],
                str(item["usage"]),
                fetched.window.start,
                fetched.window.end,
                fetched.fetched_at,
                SOURCE,
                fetched.url,
                fetched.sha256,
                ingested_at,
                source.group_by,
                source.frequency,
                day,
            )
        )
    return result
