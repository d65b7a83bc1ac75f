"""gold.budget_status: each budget against its spend to date and its month-end forecast (pure Python, small rows).

Semantics (per budget and month, from gold.cost_forecast's rows of the budget's scope):

- `spend_to_date`: the exact sum of the month's actual cost through `as_of_date` (the latest usage date).
- `percent_used` / `forecast_percent`: spend to date / month-end forecast as a percentage of `amount`.
- `thresholds_crossed`: the alert thresholds that spend to date has reached (spend >= amount x threshold / 100).
- `projected_breach_date`: the first day the month's cumulative cost exceeds the amount: the day actual spend
  crossed it when it already has, else the first day the projected cumulative cost does, else NULL.
- `status`, the first that holds: `over budget` (spend to date exceeds the amount), `forecast over budget` (the
  month-end forecast exceeds it), `at risk` (the interval's upper bound exceeds it), `ok`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

OVER_BUDGET = "over budget"
FORECAST_OVER = "forecast over budget"
AT_RISK = "at risk"
OK = "ok"
PERCENT = Decimal("0.000001")


def percent_of(value: Decimal, amount: Decimal) -> Decimal:
    return (value * 100 / amount).quantize(PERCENT)


def breach_date(days: Sequence[Mapping[str, Any]], amount: Decimal) -> date | None:
    """The first day whose cumulative cost (actual, then projected) exceeds `amount`."""
    for day in sorted(days, key=lambda d: d["usage_date"]):
        if day["cumulative_cost"] > amount:
            return day["usage_date"]
    return None


def status_of(spend: Decimal, forecast: Decimal, upper: Decimal, amount: Decimal) -> str:
    if spend > amount:
        return OVER_BUDGET
    if forecast > amount:
        return FORECAST_OVER
    if upper > amount:
        return AT_RISK
    return OK


def budget_status_row(budget: Mapping[str, Any], days: Sequence[Mapping[str, Any]]) -> tuple[Any, ...] | None:
    """One gold.budget_status row from a silver.budgets row and its scope's gold.cost_forecast rows of one month."""
    if not days:
        return None
    first = days[0]
    amount: Decimal = budget["amount"]
    spend = _spend(days)
    thresholds = list(budget["thresholds"] or [])
    crossed = [t for t in thresholds if spend * 100 >= amount * t]
    forecast, lower, upper = first["month_end_forecast"], first["month_end_lower"], first["month_end_upper"]
    return (
        first["month"],
        budget["budget_name"],
        budget["budget_source"],
        budget["currency_code"],
        budget["cost_basis"],
        amount,
        first["as_of_date"],
        spend,
        percent_of(spend, amount),
        forecast,
        lower,
        upper,
        percent_of(forecast, amount),
        breach_date(days, amount),
        thresholds,
        crossed,
        status_of(spend, forecast, upper, amount),
    )


def _spend(days: Sequence[Mapping[str, Any]]) -> Decimal:
    as_of = days[0]["as_of_date"]
    return sum(
        (d["actual_cost"] for d in days if d["usage_date"] <= as_of and d["actual_cost"] is not None), Decimal(0)
    )
