"""A readable cost summary of the gold tables, for people at a terminal."""

from __future__ import annotations

from decimal import Decimal

from pyspark.sql import functions as F

from pipelines.report.html import money
from pipelines.status import format_status
from pipelines.storage import TableStore
from pipelines.tables import COST_DAILY, QUARANTINE, SOURCE_RECONCILIATION, UNPRICED_USAGE


def _quantity(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.3f}"


def _section(out: list[str], title: str, lines: list[str]) -> None:
    out.extend(["", title, *(f"  {line}" for line in lines or ["none"])])


def cost_summary(store: TableStore, days: int = 7, top_skus: int = 15) -> str:
    """Cost per day (latest days), per SKU, unpriced usage, quarantined rows and table versions."""
    daily = store.read(COST_DAILY)
    out: list[str] = []
    latest_days = daily.select("usage_date").distinct().orderBy(F.col("usage_date").desc()).limit(days)
    per_day = (
        daily.join(latest_days, "usage_date")
        .groupBy("usage_date", "usage_unit", "currency_code")
        .agg(F.sum("usage_quantity").alias("q"), F.sum("list_cost").alias("l"), F.sum("effective_cost").alias("e"))
        .collect()
    )
    out.append(f"Cost per day (latest {days} days; rounded for display only)")
    out.append(f"  {'date':<12}{'unit':<6}{'quantity':>16}{'list cost':>16}{'effective cost':>16} currency")
    for r in sorted(per_day, key=lambda r: (r.usage_date, r.usage_unit)):
        amounts = f"{_quantity(r.q):>16}{money(r.l):>16}{money(r.e):>16}"
        out.append(f"  {r.usage_date!s:<12}{r.usage_unit:<6}{amounts} {r.currency_code}")

    per_sku = (
        daily.groupBy("sku_name", "usage_unit", "currency_code")
        .agg(
            F.sum("usage_quantity").alias("q"),
            F.sum("effective_cost").alias("e"),
            F.sum("unpriced_record_count").alias("u"),
        )
        .orderBy(F.col("e").desc_nulls_last())
        .limit(top_skus)
        .collect()
    )
    totals = (
        daily.groupBy("usage_unit", "currency_code")
        .agg(
            F.sum("effective_cost").alias("e"),
            F.sum("list_cost").alias("l"),
            F.min("usage_date").alias("first"),
            F.max("usage_date").alias("last"),
        )
        .collect()
    )
    out.append("")
    out.append(f"Cost per SKU (top {top_skus} by effective cost, whole period)")
    out.append(f"  {'sku':<52}{'unit':<6}{'quantity':>16}{'effective cost':>16}{'unpriced rows':>15}")
    for r in per_sku:
        out.append(f"  {r.sku_name:<52}{r.usage_unit:<6}{_quantity(r.q):>16}{money(r.e):>16}{r.u:>15,}")
    for t in totals:
        out.append(
            f"  total {t.usage_unit} {t.first}..{t.last}: list {money(t.l)} {t.currency_code}, "
            f"effective {money(t.e)} {t.currency_code}"
        )

    unpriced = (
        store.read(UNPRICED_USAGE)
        .groupBy("unpriced_reason", "sku_name", "usage_unit")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("usage_quantity").alias("q"))
        .orderBy(F.col("n").desc())
        .collect()
    )
    _section(
        out,
        "Unpriced usage (cost is NULL, never guessed)",
        [f"{r.n:>8,} rows {_quantity(r.q):>14} {r.usage_unit}  {r.sku_name}: {r.unpriced_reason}" for r in unpriced],
    )
    reconciled = (
        store.read(SOURCE_RECONCILIATION)
        .where(F.col("legacy_quantity").isNotNull() & F.col("system_quantity").isNotNull())
        .groupBy("usage_unit")
        .agg(
            F.countDistinct("workspace_id", "usage_date").alias("days"),
            F.sum("legacy_quantity").alias("legacy"),
            F.sum("system_quantity").alias("system"),
        )
        .collect()
    )
    _section(
        out,
        "Legacy CSV vs system tables where both report a workspace-day (system tables used)",
        [
            f"{r.days:>8,} workspace-days {r.usage_unit}: legacy {_quantity(r.legacy)}, system {_quantity(r.system)}"
            for r in reconciled
        ],
    )
    quarantined = store.read(QUARANTINE).groupBy("source", "reason").count().orderBy("source", "reason").collect()
    _section(out, "Quarantined rows", [f"{r['count']:>8,}  {r.source}: {r.reason}" for r in quarantined])
    out.append("")
    out.append("Tables")
    out.append("  " + format_status(store).replace("\n", "\n  "))
    return "\n".join(out)
