"""The forward-looking part of `summary`: month-end forecasts (account and per workspace), budget status and the
latest anomalies, each saying "not built yet" when its table does not exist and "none" when it is empty."""

from __future__ import annotations

from decimal import Decimal

from pipelines.report.blocks import percent
from pipelines.report.charts import money
from pipelines.report.outlook import Outlook

LATEST_ANOMALIES = 10


def _interval(low: Decimal | None, high: Decimal | None) -> str:
    return f"{money(low)}..{money(high)}"


def forecast_lines(outlook: Outlook, names: dict[str, str]) -> list[str]:
    """Account and workspace forecasts: spend to date, month-end forecast and its 80% interval."""
    if not outlook.forecasts_built:
        return ["not built yet (gold.cost_forecast does not exist)"]
    shown = [f for f in outlook.forecasts if f.scope_type in ("account", "workspace")]
    if not shown:
        return []
    lines = [f"{'scope':<34}{'basis':<12}{'as of':<12}{'spend to date':>16}{'forecast':>14}  80% interval"]
    for f in sorted(shown, key=lambda f: (f.scope_type != "account", f.currency, f.scope_id, f.cost_basis)):
        scope = "account" if f.scope_type == "account" else f"workspace {names.get(f.scope_id) or f.label}"
        lines.append(
            f"{scope[:33]:<34}{f.cost_basis:<12}{f.as_of_date!s:<12}{money(f.spend_to_date):>16}"
            f"{money(f.month_end):>14}  {_interval(f.month_end_lower, f.month_end_upper)} {f.currency}"
        )
    return lines


def budget_lines(outlook: Outlook) -> list[str]:
    """Each budget's latest month: spend, % used, forecast, projected breach and thresholds crossed."""
    if not outlook.budgets_built:
        return ["not built yet (gold.budget_status does not exist)"]
    lines = []
    for b in outlook.budgets:
        crossed = ", ".join(f"{t}%" for t in b.thresholds_crossed) or "none"
        breach = f", breach projected {b.breach_date}" if b.breach_date else ""
        lines.append(
            f"{b.name} ({b.scope}, {b.cost_basis}, {b.month:%Y-%m}): {money(b.spend_to_date)} of"
            f" {money(b.amount)} {b.currency} ({percent(b.percent_used)}), forecast {money(b.forecast)}"
            f" ({percent(b.forecast_percent)}, 80% {_interval(b.forecast_lower, b.forecast_upper)}){breach};"
            f" thresholds crossed: {crossed}; {b.status}"
        )
    return lines


def anomaly_lines(outlook: Outlook, latest: int = LATEST_ANOMALIES) -> list[str]:
    """The newest anomalies: day, scope, actual against expected, deviation and top contributor."""
    if not outlook.anomalies_built:
        return ["not built yet (gold.cost_anomalies does not exist)"]
    lines = []
    for a in outlook.anomalies[:latest]:
        top = a.top_contributor
        named = f"{top.label} ({money(top.change)})" if top else "none named"
        lines.append(
            f"{a.usage_date} {a.scope} {a.cost_basis}: {money(a.actual_cost)} vs {money(a.expected_cost)} expected"
            f" {a.currency} ({'+' if a.deviation > 0 else ''}{money(a.deviation)}, {percent(a.deviation_percent)});"
            f" top contributor {named}"
        )
    if len(outlook.anomalies) > latest:
        lines.append(f"... {len(outlook.anomalies) - latest} older in gold.cost_anomalies")
    return lines
