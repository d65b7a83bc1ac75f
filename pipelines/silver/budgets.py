"""Silver budgets: the configured budgets and the account's own, one row per budget in one shape.

A configured budget is taken as written (`budget_source` 'config'). An account budget (`budget_source`
'account') comes from its Databricks configuration: Databricks compares cumulative list-price spend in
USD with each alert's `quantity_threshold`, so the budget's amount is the highest threshold of its
monthly cumulative-spend alerts, its cost basis `list`, its currency USD, and the other thresholds
become percentages of that amount (rounded down when not whole, so an alert comes early, never late).
Its scope is the filter's workspace ids and at most one tag with one value. A configuration this
pipeline cannot express exactly (several tags or values, another resource type, no monthly alert) is
skipped with the reason, never approximated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from pipelines.config import Budget
from pipelines.tables import BUDGETS

CONFIG = "config"
ACCOUNT = "account"
ACCOUNT_CURRENCY = "USD"  # Databricks budgets count list-price dollars (quantity_type LIST_PRICE_DOLLARS_USD)
ACCOUNT_COST_BASIS = "list"
ALL_RESOURCES = "BUDGET_RESOURCE_TYPE_ALL_RESOURCES"


@dataclass(frozen=True)
class BudgetRow:
    """One row of silver.budgets (the columns of `pipelines.tables.BUDGETS`, in order)."""

    budget_name: str
    budget_source: str
    amount: Decimal
    currency_code: str
    cost_basis: str
    workspace_ids: list[str] | None
    tag_key: str | None
    tag_value: str | None
    sku_pattern: str | None
    thresholds: list[int]

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.budget_name,
            self.budget_source,
            self.amount,
            self.currency_code,
            self.cost_basis,
            self.workspace_ids,
            self.tag_key,
            self.tag_value,
            self.sku_pattern,
            self.thresholds,
        )


class Unsupported(Exception):
    """An account budget this pipeline cannot express exactly; the message says why."""


def config_budget_rows(budgets: Iterable[Budget]) -> list[BudgetRow]:
    """The configured budgets as rows."""
    return [
        BudgetRow(
            budget_name=b.name,
            budget_source=CONFIG,
            amount=b.amount,
            currency_code=b.currency,
            cost_basis=b.cost_basis,
            workspace_ids=None if b.workspaces is None else list(b.workspaces),
            tag_key=b.tag_key,
            tag_value=b.tag_value,
            sku_pattern=b.sku,
            thresholds=list(b.thresholds),
        )
        for b in budgets
    ]


def _monthly_thresholds(configuration: dict[str, Any]) -> list[Decimal]:
    """The thresholds of the shared, monthly, cumulative list-price alerts (other alerts are not budgets here)."""
    thresholds = []
    for alert in configuration.get("alert_configurations") or []:
        if (
            alert.get("time_period") != "MONTH"
            or alert.get("trigger_type") != "CUMULATIVE_SPENDING_EXCEEDED"
            or alert.get("quantity_type", "LIST_PRICE_DOLLARS_USD") != "LIST_PRICE_DOLLARS_USD"
            or alert.get("scope_type", "ALERT_CONFIGURATION_SCOPE_TYPE_SHARED")
            != "ALERT_CONFIGURATION_SCOPE_TYPE_SHARED"
        ):
            continue
        try:
            threshold = Decimal(str(alert.get("quantity_threshold")).strip())
        except InvalidOperation:
            raise Unsupported(f"quantity_threshold {alert.get('quantity_threshold')!r} is not a number") from None
        if not threshold.is_finite() or threshold <= 0:
            raise Unsupported(f"quantity_threshold {alert.get('quantity_threshold')!r} is not an amount above 0")
        thresholds.append(threshold)
    if not thresholds:
        raise Unsupported("no shared monthly cumulative-spend alert on list-price USD (its amount is unknown)")
    return thresholds


def _in_values(clause: Any, what: str) -> list[str]:
    if not isinstance(clause, dict) or clause.get("operator", "IN") != "IN" or not clause.get("values"):
        raise Unsupported(f"{what} filter {json.dumps(clause)} is not `IN` with values")
    return [str(value) for value in clause["values"]]


def _scope(configuration: dict[str, Any]) -> tuple[list[str] | None, str | None, str | None]:
    """(workspace ids, tag key, tag value) of the configuration's filter; Unsupported when not expressible."""
    budget_filter = configuration.get("filter") or {}
    unknown = sorted(set(budget_filter) - {"workspace_id", "tags"})
    if unknown:
        raise Unsupported(f"filter on {', '.join(unknown)}")
    workspaces = None
    if budget_filter.get("workspace_id"):
        workspaces = sorted(set(_in_values(budget_filter["workspace_id"], "workspace_id")))
    tags = budget_filter.get("tags") or []
    if len(tags) > 1:
        raise Unsupported(f"filter on {len(tags)} tags (one tag key=value per budget is supported)")
    if not tags:
        return workspaces, None, None
    values = _in_values(tags[0].get("value"), f"tag {tags[0].get('key')!r}")
    if len(values) != 1 or not tags[0].get("key"):
        raise Unsupported(f"tag filter {json.dumps(tags[0])} (one key with one value is supported)")
    return workspaces, str(tags[0]["key"]), values[0]


def account_budget_row(name: str, configuration: dict[str, Any]) -> BudgetRow:
    """One account budget configuration as a row named `name`. Raises Unsupported when it cannot be expressed."""
    resource_type = configuration.get("resource_type", ALL_RESOURCES)
    if resource_type != ALL_RESOURCES:
        raise Unsupported(f"resource_type {resource_type}")
    thresholds = _monthly_thresholds(configuration)
    amount = max(thresholds)
    percents = sorted({max(1, int(threshold * 100 / amount)) for threshold in thresholds})
    workspaces, tag_key, tag_value = _scope(configuration)
    return BudgetRow(
        name, ACCOUNT, amount, ACCOUNT_CURRENCY, ACCOUNT_COST_BASIS, workspaces, tag_key, tag_value, None, percents
    )


def account_budget_rows(delivered: Sequence[tuple[str, str | None, str]]) -> tuple[list[BudgetRow], list[str]]:
    """Rows for the (id, display name, configuration JSON) delivered, and a warning for each one skipped.

    A budget is named by its display name; display names that repeat get the configuration id appended.
    """
    names = [display or budget_id for budget_id, display, _ in delivered]
    rows, warnings = [], []
    for (budget_id, display, text), name in zip(delivered, names, strict=True):
        if names.count(name) > 1:
            name = f"{name} ({budget_id})"
        try:
            configuration = json.loads(text)
            if not isinstance(configuration, dict):
                raise Unsupported("the configuration is not a JSON object")
            rows.append(account_budget_row(name, configuration))
        except (Unsupported, ValueError) as reason:
            warnings.append(f"account budget {display!r} ({budget_id}) skipped: {reason}")
    return rows, warnings


def budgets_frame(spark: SparkSession, rows: Sequence[BudgetRow]) -> DataFrame:
    """The rows as a frame of silver.budgets, ordered by source and name."""
    ordered = sorted(rows, key=lambda row: (row.budget_source, row.budget_name))
    return spark.createDataFrame([row.as_tuple() for row in ordered], BUDGETS.schema())
