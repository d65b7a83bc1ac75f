"""The figures the cost report shows, read from the gold tables (and the ingest log for freshness).

The gold aggregates and the ingest log are small: they are read as Arrow (`TableReader.read_arrow`)
and summed with Arrow's group-by, so on local delta-rs tables the report starts no JVM. Each figure
is a small list of rows, never usage data itself. The charts show the priced `effective_cost` in one
currency; the headline sets list, effective and contracted totals side by side, so effective (Databricks'
effective list price) is never read as what the account pays. decimal128 sums stay exact (Python
`Decimal`) until the page rounds them for display.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.report.outlook import Outlook, gather_outlook
from pipelines.source_names import USAGE_SOURCE_OF
from pipelines.storage import TableReader
from pipelines.tables import (
    BUDGET_STATUS,
    BUDGETS,
    COST_ANOMALIES,
    COST_BY_TAG,
    COST_BY_WORKLOAD,
    COST_DAILY,
    COST_FORECAST,
    INGEST_LOG,
    QUARANTINE,
    UNPRICED_USAGE,
)

TOP = 10
READ_TABLES = (
    COST_DAILY,
    COST_BY_WORKLOAD,
    COST_BY_TAG,
    UNPRICED_USAGE,
    QUARANTINE,
    INGEST_LOG,
    COST_FORECAST,
    BUDGET_STATUS,
    BUDGETS,
    COST_ANOMALIES,
)
COSTS = ("list_cost", "effective_cost", "contracted_cost")


@dataclass
class ReportFigures:
    """Everything the page draws, each with the rows behind it."""

    currency: str
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    period: tuple[date, date] | None = None  # first and last usage date in gold.cost_daily (any currency)
    total_cost: Decimal = Decimal(0)  # effective cost: what the charts show
    list_total: Decimal = Decimal(0)
    contracted_total: Decimal = Decimal(0)  # account prices, else discount rules, else list: what the account pays
    daily_by_product: list[tuple[date, str, Decimal]] = field(default_factory=list)
    top_workloads: list[tuple[str, str, str, Decimal]] = field(default_factory=list)
    cost_by_tag: list[tuple[str, str, Decimal]] = field(default_factory=list)
    month_to_date: list[tuple[str, Decimal]] = field(default_factory=list)
    unpriced: list[tuple[str, str, int]] = field(default_factory=list)
    quarantined: list[tuple[str, str, int]] = field(default_factory=list)
    freshness: list[dict[str, Any]] = field(default_factory=list)
    tables: list[tuple[str, str, int | None]] = field(default_factory=list)  # (table, path or catalog name, version)
    per_month: list[tuple[str, Decimal, Decimal, Decimal]] = field(default_factory=list)  # month, list, eff., contr.
    # workspace id, its configured name (else ""), list, effective and contracted cost
    per_workspace: list[tuple[str, str, Decimal, Decimal, Decimal]] = field(default_factory=list)
    tag_keys: list[tuple[str, Decimal]] = field(default_factory=list)  # tag key, effective cost of records with it
    outlook: Outlook = field(default_factory=Outlook)

    def untagged(self) -> list[tuple[str, Decimal, Decimal | None]]:
        """Per tag key: the effective cost of records without that key, and its share of the total.

        Exact from gold.cost_by_tag: a record carries a key at most once (tags are a map), so that table's rows of
        one key sum the cost of the records carrying it once each; the rest of the total lacks the key.
        """
        return [
            (key, self.total_cost - tagged, (self.total_cost - tagged) / self.total_cost if self.total_cost else None)
            for key, tagged in self.tag_keys
        ]


def grouped(table: pa.Table, keys: list[str], aggregations: list[tuple[Any, str]]) -> list[dict[str, Any]]:
    """`table` grouped by `keys` with Arrow's aggregations (`("effective_cost", "sum")` -> `effective_cost_sum`).

    A decimal sum keeps the column's decimal type, exact; it is None when every amount is NULL.
    """
    return table.group_by(keys).aggregate(aggregations).to_pylist()


def amount(value: Decimal | None) -> Decimal:
    """A summed cost, 0 where nothing was priced."""
    return Decimal(0) if value is None else value


def in_currency(table: pa.Table, currency: str) -> pa.Table:
    return table.filter(pc.equal(table["currency_code"], currency))


def gather(
    store: TableReader, currency: str, workspace_names: Mapping[str, str] | None = None, now: datetime | None = None
) -> ReportFigures:
    """Collect the report's figures from gold; only rows in `currency` are summed. `workspace_names` (from the
    config) name the workspaces of the per-workspace view."""
    figures = ReportFigures(currency, generated_at=now or datetime.now(UTC))
    columns = ["usage_date", "source", "workspace_id", "sku_name", "currency_code", *COSTS]
    daily_all = store.read_arrow(COST_DAILY, columns)
    if daily_all.num_rows:
        figures.period = (pc.min(daily_all["usage_date"]).as_py(), pc.max(daily_all["usage_date"]).as_py())
    daily = in_currency(daily_all, currency)
    daily = daily.set_column(
        daily.schema.get_field_index("sku_name"), "sku_name", pc.fill_null(daily["sku_name"], "(unknown)")
    )
    figures.total_cost = amount(pc.sum(daily["effective_cost"]).as_py())
    figures.list_total = amount(pc.sum(daily["list_cost"]).as_py())
    figures.contracted_total = amount(pc.sum(daily["contracted_cost"]).as_py())
    figures.daily_by_product = [
        (r["usage_date"], r["sku_name"], amount(r["effective_cost_sum"]))
        for r in grouped(daily, ["usage_date", "sku_name"], [("effective_cost", "sum")])
    ]
    figures.top_workloads = _top_workloads(store, currency)
    tags = in_currency(
        store.read_arrow(COST_BY_TAG, ["tag_key", "tag_value", "currency_code", "effective_cost"]), currency
    )
    by_tag = [
        (r["tag_key"], r["tag_value"], amount(r["effective_cost_sum"]))
        for r in grouped(tags, ["tag_key", "tag_value"], [("effective_cost", "sum")])
    ]
    figures.cost_by_tag = sorted(by_tag, key=lambda t: (-t[2], t[0] or "", t[1] or ""))[: TOP * 2]
    keys = [
        (r["tag_key"], amount(r["effective_cost_sum"])) for r in grouped(tags, ["tag_key"], [("effective_cost", "sum")])
    ]
    figures.tag_keys = sorted(keys, key=lambda k: (-k[1], k[0]))
    figures.per_month = _per_month(daily)
    figures.per_workspace = _per_workspace(daily, workspace_names or {})
    figures.outlook = gather_outlook(store)
    figures.month_to_date = _month_to_date(figures.daily_by_product)
    unpriced = _counts(store.read_arrow(UNPRICED_USAGE, ["unpriced_reason", "sku_name"]))
    figures.unpriced = sorted(((reason, sku or "", n) for reason, sku, n in unpriced), key=lambda u: (u[1], u[0]))
    figures.quarantined = sorted(_counts(store.read_arrow(QUARANTINE, ["source", "reason"])))
    figures.freshness = _freshness(store, daily_all)
    figures.tables = [(table.key, store.location(table), store.version(table)) for table in READ_TABLES]
    return figures


def _sums(row: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    return amount(row["list_cost_sum"]), amount(row["effective_cost_sum"]), amount(row["contracted_cost_sum"])


def _per_month(daily: pa.Table) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """List, effective and contracted cost per calendar month of usage."""
    months = pc.strftime(daily["usage_date"].cast(pa.timestamp("s")), format="%Y-%m")
    rows = grouped(daily.append_column("month", months), ["month"], [(c, "sum") for c in COSTS])
    return sorted((r["month"], *_sums(r)) for r in rows)


def _per_workspace(daily: pa.Table, names: Mapping[str, str]) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    """List, effective and contracted cost per workspace, the most contracted cost first."""
    rows = grouped(daily, ["workspace_id"], [(c, "sum") for c in COSTS])
    found = [(r["workspace_id"] or "", names.get(r["workspace_id"] or "", ""), *_sums(r)) for r in rows]
    return sorted(found, key=lambda w: (-w[4], -w[3], w[0]))


def _counts(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows per distinct combination of the table's columns: (values..., count)."""
    return [(*r.values(),) for r in grouped(table, table.column_names, [([], "count_all")])]


def _top_workloads(store: TableReader, currency: str) -> list[tuple[str, str, str, Decimal]]:
    keys = ["workload_type", "workload_id", "workload_name"]
    workloads = in_currency(store.read_arrow(COST_BY_WORKLOAD, [*keys, "currency_code", "effective_cost"]), currency)
    workloads = workloads.filter(pc.is_valid(workloads["workload_type"]))
    rows = [
        (r["workload_type"], r["workload_id"] or "", r["workload_name"] or "", amount(r["effective_cost_sum"]))
        for r in grouped(workloads, keys, [("effective_cost", "sum")])
    ]
    return sorted(rows, key=lambda w: (-w[3], w[1]))[:TOP]


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


def _freshness(store: TableReader, daily: pa.Table) -> list[dict[str, Any]]:
    """Per ingest source: the last ingest, its status, and the newest usage date of the gold source it feeds."""
    last: dict[str, tuple[Any, str]] = {}  # the newest (ingested_at, status) per source
    for row in store.read_arrow(INGEST_LOG, ["source", "ingested_at", "status"]).to_pylist():
        entry = (row["ingested_at"], row["status"])
        last[row["source"]] = max(last.get(row["source"], entry), entry)
    newest = {r["source"]: r["usage_date_max"] for r in grouped(daily, ["source"], [("usage_date", "max")])}
    rows = []
    for source, (ingested_at, status) in sorted(last.items()):
        fed = USAGE_SOURCE_OF.get(source)
        rows.append(
            {
                "source": source,
                "last_ingest": ingested_at,
                "last_status": status,
                "gold_source": fed or "-",
                "newest_usage_date": newest.get(fed) if fed else None,
            }
        )
    return rows
