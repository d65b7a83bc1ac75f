"""The daily netted cost of each forecast scope, and gold.cost_forecast's rows from the model's forecasts.

Scopes: the account, each workspace and each SKU group (`billing_origin_product`) on contracted cost
(what the account pays), and each budget on its own cost basis, in its own currency. Every series is
keyed by currency: costs in different currencies are never added. Netting is already done upstream:
the aggregates sum the corrected records (a retraction cancels its original), so a restatement moves
cost between days instead of adding to it. Unpriced usage has no cost and adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.forecast.model import LOOKBACK_DAYS, MonthForecast

COST_BASIS_COLUMNS = {"list": "list_cost", "effective": "effective_cost", "contracted": "contracted_cost"}
SCOPE_BASIS = "contracted"  # account, workspace and SKU group scopes: what the account pays
ACCOUNT_SCOPE_ID = "account"
UNKNOWN_PRODUCT = "UNKNOWN"  # a record without billing_origin_product
SERIES_COLUMNS = ("scope_type", "scope_id", "scope_name", "currency_code", "cost_basis", "usage_date", "cost")


@dataclass(frozen=True, order=True)
class ForecastScope:
    """What one series adds up: its type and id, display name, currency and cost basis."""

    scope_type: str
    scope_id: str
    scope_name: str
    currency_code: str
    cost_basis: str

    @property
    def key(self) -> str:
        return f"{self.scope_type}|{self.scope_id}|{self.currency_code}|{self.cost_basis}"

    def describe(self) -> str:
        name = "" if self.scope_name == self.scope_id else f" ({self.scope_name})"
        return f"{self.scope_type} {self.scope_id}{name} {self.currency_code} {self.cost_basis}"


def window_dates(as_of: date) -> list[date]:
    """The days the model reads: the lookback window ending on `as_of` (it covers `as_of`'s month so far)."""
    return [as_of - timedelta(n) for n in range(LOOKBACK_DAYS - 1, -1, -1)]


def _series(data: DataFrame, scope_type: str, scope_id: Column, scope_name: Column, basis: str) -> DataFrame:
    cost = F.sum(F.col(COST_BASIS_COLUMNS[basis])).alias("cost")
    grouped = data.groupBy(scope_id.alias("scope_id"), scope_name.alias("scope_name"), "currency_code", "usage_date")
    return grouped.agg(cost).select(
        F.lit(scope_type).alias("scope_type"),
        "scope_id",
        "scope_name",
        "currency_code",
        F.lit(basis).alias("cost_basis"),
        "usage_date",
        "cost",
    )


def scope_series(workload: DataFrame, workspace_names: Mapping[str, str]) -> DataFrame:
    """Daily contracted cost of the account, each workspace and each SKU group, per currency.

    `workload` is gold.cost_by_workload (every record once, so its sums are the totals).
    """
    names = (
        F.create_map(*[F.lit(v) for pair in sorted(workspace_names.items()) for v in pair]) if workspace_names else None
    )
    workspace_name = (
        F.coalesce(names[F.col("workspace_id")], F.col("workspace_id")) if names is not None else F.col("workspace_id")
    )
    product = F.coalesce(F.col("billing_origin_product"), F.lit(UNKNOWN_PRODUCT))
    parts = [
        _series(workload, "account", F.lit(ACCOUNT_SCOPE_ID), F.lit(ACCOUNT_SCOPE_ID), SCOPE_BASIS),
        _series(workload, "workspace", F.col("workspace_id"), workspace_name, SCOPE_BASIS),
        _series(workload, "sku_group", product, product, SCOPE_BASIS),
    ]
    return reduce(DataFrame.unionByName, parts).where(F.col("cost").isNotNull())


def glob_regex(pattern: str) -> str:
    """A SKU glob (`*` any run, `?` one character, case-insensitive) as an anchored Java regular expression."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return f"(?i)^{body}$"


def budget_series(workload: DataFrame, by_tag: DataFrame, budget: Mapping[str, Any]) -> DataFrame:
    """Daily cost of one silver.budgets row: usage matching every scope part given, on its cost basis and currency.

    A tag scope reads gold.cost_by_tag (records carrying `key=value`), any other gold.cost_by_workload.
    """
    data = (
        by_tag.where((F.col("tag_key") == budget["tag_key"]) & (F.col("tag_value") == budget["tag_value"]))
        if budget["tag_key"]
        else workload
    )
    data = data.where(F.col("currency_code") == budget["currency_code"])
    if budget["workspace_ids"]:
        data = data.where(F.col("workspace_id").isin(list(budget["workspace_ids"])))
    if budget["sku_pattern"]:
        data = data.where(F.col("sku_name").rlike(glob_regex(budget["sku_pattern"])))
    name = F.lit(budget["budget_name"])
    series = _series(data, "budget", name, name, budget["cost_basis"])
    return series.where(F.col("cost").isNotNull())


def all_series(
    workload: DataFrame, by_tag: DataFrame, budgets: Sequence[Mapping[str, Any]], workspace_names: Mapping[str, str]
) -> DataFrame:
    """Every scope's daily cost: account, workspaces and SKU groups, then one series per budget."""
    parts = [scope_series(workload, workspace_names), *(budget_series(workload, by_tag, b) for b in budgets)]
    return reduce(DataFrame.unionByName, parts)


def budget_scope(budget: Mapping[str, Any]) -> ForecastScope:
    name = budget["budget_name"]
    return ForecastScope("budget", name, name, budget["currency_code"], budget["cost_basis"])


def histories(
    rows: Iterable[Mapping[str, Any]], budgets: Sequence[Mapping[str, Any]]
) -> dict[ForecastScope, dict[date, Decimal]]:
    """Collected series rows as one daily history per scope; a budget without usage has an empty history."""
    result: dict[ForecastScope, dict[date, Decimal]] = {budget_scope(b): {} for b in budgets}
    for row in rows:
        scope = ForecastScope(
            row["scope_type"], row["scope_id"], row["scope_name"], row["currency_code"], row["cost_basis"]
        )
        result.setdefault(scope, {})[row["usage_date"]] = row["cost"]
    return result


def series_fingerprint(history: Mapping[date, Decimal], as_of: date) -> str:
    """A hash of what the model reads for a scope: `as_of` and the window's daily cost."""
    first = as_of - timedelta(LOOKBACK_DAYS - 1)
    values = sorted((d.isoformat(), str(v.normalize())) for d, v in history.items() if first <= d <= as_of)
    return hashlib.sha256(json.dumps([as_of.isoformat(), values]).encode()).hexdigest()[:16]


def forecast_rows(scope: ForecastScope, result: MonthForecast) -> list[tuple[Any, ...]]:
    """gold.cost_forecast's rows of one scope: each day of the month, actual to `as_of` and forecast after it."""
    common = (result.month, scope.scope_type, scope.scope_id, scope.scope_name, scope.currency_code, scope.cost_basis)
    month_end = (result.as_of, result.month_end, result.month_end_lower, result.month_end_upper)
    rows: list[tuple[Any, ...]] = []
    cumulative = Decimal(0)
    for day, actual in result.actuals:
        cumulative += actual
        values: tuple[Any, ...] = (day, actual, None, None, None, cumulative, cumulative, cumulative)
        rows.append((*common, *values, *month_end, result.model, result.history_days))
    for f in result.days:
        values = (
            f.usage_date,
            None,
            f.expected,
            f.lower,
            f.upper,
            f.cumulative,
            f.cumulative_lower,
            f.cumulative_upper,
        )
        rows.append((*common, *values, *month_end, result.model, result.history_days))
    return rows
