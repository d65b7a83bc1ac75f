"""A readable cost summary of the gold tables, for people at a terminal.

Read as Arrow and summed with Arrow's group-by (exact decimals), like the report: on local delta-rs
tables it starts no JVM. Amounts are summed per unit and currency, never across them; money is
printed with two decimals, quantities with three (rounded for display only).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.report.figures import grouped
from pipelines.report.html import money
from pipelines.report.outlook import gather_outlook
from pipelines.status import format_status
from pipelines.storage import TableReader
from pipelines.summary_outlook import LATEST_ANOMALIES, anomaly_lines, budget_lines, forecast_lines
from pipelines.tables import COST_DAILY, QUARANTINE, SOURCE_RECONCILIATION, UNPRICED_USAGE

DAILY_COLUMNS = [
    "usage_date",
    "sku_name",
    "usage_unit",
    "currency_code",
    "usage_quantity",
    "list_cost",
    "effective_cost",
    "contracted_cost",
    "contracted_price_source",
    "unpriced_record_count",
]


def _quantity(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.3f}"


def _section(out: list[str], title: str, lines: list[str]) -> None:
    out.extend(["", title, *(f"  {line}" for line in lines or ["none"])])


def _per_day(daily: pa.Table, days: int) -> list[str]:
    latest = sorted(set(daily["usage_date"].to_pylist()), reverse=True)[:days]
    recent = daily.filter(pc.is_in(daily["usage_date"], value_set=pa.array(latest, pa.date32())))
    sums = [("usage_quantity", "sum"), ("list_cost", "sum"), ("effective_cost", "sum"), ("contracted_cost", "sum")]
    header = f"{'date':<12}{'unit':<6}{'quantity':>16}{'list cost':>16}{'effective cost':>16}{'contracted cost':>16}"
    lines = [f"{header} currency"]
    for r in sorted(grouped(recent, ["usage_date", "usage_unit", "currency_code"], sums), key=_day_unit):
        amounts = f"{_quantity(r['usage_quantity_sum']):>16}{money(r['list_cost_sum']):>16}"
        amounts += f"{money(r['effective_cost_sum']):>16}{money(r['contracted_cost_sum']):>16}"
        lines.append(f"{r['usage_date']!s:<12}{r['usage_unit']:<6}{amounts} {r['currency_code']}")
    return lines


def _day_unit(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["usage_date"], row["usage_unit"], row["currency_code"])


def _per_sku(daily: pa.Table, top_skus: int) -> list[str]:
    sums = [("usage_quantity", "sum"), ("effective_cost", "sum"), ("unpriced_record_count", "sum")]
    rows = grouped(daily, ["sku_name", "usage_unit", "currency_code"], sums)
    # Biggest effective cost first, SKUs with no priced usage last.
    rows.sort(key=lambda r: (r["effective_cost_sum"] is None, -(r["effective_cost_sum"] or 0), r["sku_name"] or ""))
    rows = rows[:top_skus]
    width = max([len("sku"), *(len(r["sku_name"] or "") for r in rows)]) + 2
    lines = [f"{'sku':<{width}}{'unit':<6}{'quantity':>16}{'effective cost':>16}{'unpriced rows':>15} currency"]
    for r in rows:
        amounts = f"{_quantity(r['usage_quantity_sum']):>16}{money(r['effective_cost_sum']):>16}"
        unpriced = r["unpriced_record_count_sum"] or 0
        lines.append(
            f"{r['sku_name'] or '-':<{width}}{r['usage_unit']:<6}{amounts}{unpriced:>15,} {r['currency_code']}"
        )
    sums = [("effective_cost", "sum"), ("list_cost", "sum"), ("contracted_cost", "sum")]
    sums += [("usage_date", "min"), ("usage_date", "max")]
    for t in sorted(
        grouped(daily, ["usage_unit", "currency_code"], sums), key=lambda t: (t["usage_unit"], t["currency_code"])
    ):
        currency = t["currency_code"]
        lines.append(
            f"total {t['usage_unit']} {t['usage_date_min']}..{t['usage_date_max']}: list {money(t['list_cost_sum'])}"
            f" {currency}, effective {money(t['effective_cost_sum'])} {currency},"
            f" contracted {money(t['contracted_cost_sum'])} {currency}"
        )
    return lines


def _per_contracted_source(daily: pa.Table) -> list[str]:
    """How much priced usage each contracted price source priced (account prices, a discount rule, list)."""
    priced = daily.filter(pc.is_valid(daily["contracted_price_source"]))
    sums = [("usage_quantity", "sum"), ("list_cost", "sum"), ("contracted_cost", "sum")]
    rows = grouped(priced, ["contracted_price_source", "usage_unit", "currency_code"], sums)
    if not rows:
        return []
    rows.sort(key=lambda r: (r["usage_unit"], r["currency_code"], -(r["contracted_cost_sum"] or 0)))
    width = max([len("source"), *(len(r["contracted_price_source"]) for r in rows)]) + 2
    lines = [f"{'source':<{width}}{'unit':<6}{'quantity':>16}{'list cost':>16}{'contracted cost':>16} currency"]
    for r in rows:
        amounts = f"{_quantity(r['usage_quantity_sum']):>16}{money(r['list_cost_sum']):>16}"
        amounts += f"{money(r['contracted_cost_sum']):>16}"
        lines.append(f"{r['contracted_price_source']:<{width}}{r['usage_unit']:<6}{amounts} {r['currency_code']}")
    return lines


def _unpriced(store: TableReader) -> list[str]:
    unpriced = store.read_arrow(UNPRICED_USAGE, ["unpriced_reason", "sku_name", "usage_unit", "usage_quantity"])
    rows = grouped(
        unpriced, ["unpriced_reason", "sku_name", "usage_unit"], [([], "count_all"), ("usage_quantity", "sum")]
    )
    rows.sort(key=lambda r: (-r["count_all"], r["sku_name"] or "", r["unpriced_reason"] or ""))
    return [
        f"{r['count_all']:>8,} rows {_quantity(r['usage_quantity_sum']):>14} {r['usage_unit']}  {r['sku_name']}:"
        f" {r['unpriced_reason']}"
        for r in rows
    ]


def _reconciled(store: TableReader) -> list[str]:
    columns = ["usage_date", "workspace_id", "usage_unit", "legacy_quantity", "system_quantity"]
    both = store.read_arrow(SOURCE_RECONCILIATION, columns)
    both = both.filter(pc.and_(pc.is_valid(both["legacy_quantity"]), pc.is_valid(both["system_quantity"])))
    sums = [("legacy_quantity", "sum"), ("system_quantity", "sum")]
    per_unit: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for r in grouped(both, ["usage_unit", "workspace_id", "usage_date"], sums):  # one row per workspace-day
        unit = per_unit[r["usage_unit"]]
        unit[0] += 1
        unit[1] += r["legacy_quantity_sum"]
        unit[2] += r["system_quantity_sum"]
    return [
        f"{days:>8,} workspace-days {unit}: legacy {_quantity(legacy)}, system {_quantity(system)}"
        for unit, (days, legacy, system) in sorted(per_unit.items())
    ]


def cost_summary(
    store: TableReader, days: int = 7, top_skus: int = 15, workspace_names: dict[str, str] | None = None
) -> str:
    """Cost per day (latest days), per SKU, month-end forecasts, budgets, anomalies, unpriced usage, quarantined
    rows and table versions."""
    daily = store.read_arrow(COST_DAILY, DAILY_COLUMNS)
    out = [f"Cost per day (latest {days} days; rounded for display only)"]
    out.extend(f"  {line}" for line in _per_day(daily, days))
    out.append("")
    out.append(f"Cost per SKU (top {top_skus} by effective cost, whole period)")
    out.extend(f"  {line}" for line in _per_sku(daily, top_skus))
    _section(
        out,
        "Contracted price per source (contracted cost: account prices, else discount rules, else list)",
        _per_contracted_source(daily),
    )
    outlook = gather_outlook(store)
    _section(
        out,
        "Month-end forecast (account and per workspace; 80% interval)",
        forecast_lines(outlook, workspace_names or {}),
    )
    _section(out, "Budgets (latest month each)", budget_lines(outlook))
    _section(out, f"Anomalies (latest {LATEST_ANOMALIES})", anomaly_lines(outlook))
    _section(out, "Unpriced usage (cost is NULL, never guessed)", _unpriced(store))
    _section(
        out,
        "Legacy CSV vs system tables where both report a workspace-day (system tables used)",
        _reconciled(store),
    )
    quarantined = grouped(store.read_arrow(QUARANTINE, ["source", "reason"]), ["source", "reason"], [([], "count_all")])
    _section(
        out,
        "Quarantined rows",
        [f"{r['count_all']:>8,}  {r['source']}: {r['reason']}" for r in sorted(quarantined, key=_source_reason)],
    )
    out.append("")
    out.append("Tables")
    out.append("  " + format_status(store).replace("\n", "\n  "))
    return "\n".join(out)


def _source_reason(row: dict[str, Any]) -> tuple[str, str]:
    return (row["source"] or "", row["reason"] or "")
