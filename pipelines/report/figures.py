"""The figures the cost report shows, read from the gold tables (and the ingest log for freshness).

Each figure is a small list of rows collected from an aggregate, never usage data itself. Costs are the
priced `effective_cost` in one currency; they stay exact decimals until the page rounds them for display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pyspark.sql import functions as F

from pipelines.source_names import USAGE_SOURCE_OF
from pipelines.storage import TableStore
from pipelines.tables import COST_BY_TAG, COST_BY_WORKLOAD, COST_DAILY, INGEST_LOG, QUARANTINE, UNPRICED_USAGE

TOP = 10


@dataclass
class ReportFigures:
    """Everything the page draws, each with the rows behind it."""

    currency: str
    total_cost: Decimal = Decimal(0)
    daily_by_product: list[tuple[date, str, Decimal]] = field(default_factory=list)
    top_workloads: list[tuple[str, str, str, Decimal]] = field(default_factory=list)
    cost_by_tag: list[tuple[str, str, Decimal]] = field(default_factory=list)
    month_to_date: list[tuple[str, Decimal]] = field(default_factory=list)
    unpriced: list[tuple[str, str, int]] = field(default_factory=list)
    quarantined: list[tuple[str, str, int]] = field(default_factory=list)
    freshness: list[dict[str, Any]] = field(default_factory=list)


def _cost(column: str = "effective_cost") -> Any:
    return F.coalesce(F.sum(column), F.lit(0).cast("decimal(38,18)"))


def gather(store: TableStore, currency: str) -> ReportFigures:
    """Collect the report's figures from gold; only rows in `currency` are summed."""
    figures = ReportFigures(currency)
    daily = store.read(COST_DAILY).where(F.col("currency_code") == currency)
    product = F.coalesce(F.col("sku_name"), F.lit("(unknown)"))
    total = daily.agg(_cost().alias("total")).first()
    figures.total_cost = Decimal(0) if total is None else total.total
    figures.daily_by_product = [
        (r.usage_date, r.product, r.cost)
        for r in daily.groupBy("usage_date", product.alias("product")).agg(_cost().alias("cost")).collect()
    ]
    workloads = store.read(COST_BY_WORKLOAD).where(
        (F.col("currency_code") == currency) & F.col("workload_type").isNotNull()
    )
    figures.top_workloads = [
        (r.workload_type or "(none)", r.workload_id or "", r.workload_name or "", r.cost)
        for r in workloads.groupBy("workload_type", "workload_id", "workload_name")
        .agg(_cost().alias("cost"))
        .orderBy(F.col("cost").desc(), "workload_id")
        .limit(TOP)
        .collect()
    ]
    tags = store.read(COST_BY_TAG).where(F.col("currency_code") == currency)
    figures.cost_by_tag = [
        (r.tag_key, r.tag_value, r.cost)
        for r in tags.groupBy("tag_key", "tag_value")
        .agg(_cost().alias("cost"))
        .orderBy(F.col("cost").desc(), "tag_key", "tag_value")
        .limit(TOP * 2)
        .collect()
    ]
    figures.month_to_date = _month_to_date(figures.daily_by_product)
    figures.unpriced = [
        (r.unpriced_reason, r.sku_name or "", r["count"])
        for r in store.read(UNPRICED_USAGE).groupBy("unpriced_reason", "sku_name").count().orderBy("sku_name").collect()
    ]
    figures.quarantined = [
        (r.source, r.reason, r["count"])
        for r in store.read(QUARANTINE).groupBy("source", "reason").count().orderBy("source", "reason").collect()
    ]
    figures.freshness = _freshness(store)
    return figures


def _month_to_date(daily: list[tuple[date, str, Decimal]]) -> list[tuple[str, Decimal]]:
    """This month to its latest day against the same days of the previous month."""
    if not daily:
        return []
    latest = max(day for day, _, _ in daily)
    start = latest.replace(day=1)
    previous_start = (start - timedelta(days=1)).replace(day=1)
    previous_last_day = min(latest.day, (start - timedelta(days=1)).day)
    this_month = sum((c for d, _, c in daily if start <= d <= latest), Decimal(0))
    last_month = sum((c for d, _, c in daily if previous_start <= d < start and d.day <= latest.day), Decimal(0))
    return [
        (f"{previous_start:%Y-%m} (days 1-{previous_last_day})", last_month),
        (f"{start:%Y-%m} (days 1-{latest.day})", this_month),
    ]


def _freshness(store: TableStore) -> list[dict[str, Any]]:
    """Per ingest source: the last ingest, its status, and the newest usage date of the gold source it feeds."""
    log = store.read(INGEST_LOG)
    ingests = {
        r.source: r
        for r in log.groupBy("source")
        .agg(F.max("ingested_at").alias("last_ingest"), F.max(F.struct("ingested_at", "status")).alias("last"))
        .collect()
    }
    newest = {
        r.source: r.newest
        for r in store.read(COST_DAILY).groupBy("source").agg(F.max("usage_date").alias("newest")).collect()
    }
    rows = []
    for source, ingest in sorted(ingests.items()):
        fed = USAGE_SOURCE_OF.get(source)
        rows.append(
            {
                "source": source,
                "last_ingest": ingest.last_ingest,
                "last_status": ingest["last"]["status"],
                "gold_source": fed or "-",
                "newest_usage_date": newest.get(fed) if fed else None,
            }
        )
    return rows
