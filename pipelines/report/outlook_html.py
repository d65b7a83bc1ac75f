"""The report's forward-looking sections: month to date with the forecast band and budget lines, the
forecasts per scope, the budgets and the anomalies. Each says briefly when its table is not built yet."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html import escape

from pipelines.report.blocks import percent, table
from pipelines.report.charts import cumulative_chart, money
from pipelines.report.outlook import Anomaly, Forecast, Outlook

LATEST_SHOWN = 20  # anomalies in the open table; all of them in a folded one below it
NOT_BUILT = "<p class=note>{table} is not built yet in this warehouse: {what} appear here once a run writes it.</p>"


def _interval(low: Decimal | None, high: Decimal | None) -> str:
    return f"{money(low)} .. {money(high)}"


def forecast_section(outlook: Outlook, currency: str) -> str:
    """The account's month so far against its projection (80% band) and budget lines, then each scope's forecast."""
    if not outlook.forecasts_built:
        return NOT_BUILT.format(table="gold.cost_forecast", what="month-end forecasts")
    budgets = [b for b in outlook.budgets if b.account_wide and b.currency == currency]
    account = outlook.account_forecast(currency, budgets[0].cost_basis if budgets else None)
    if account is None:
        chart = f"<p>No account-wide forecast in {escape(currency)}.</p>"
    else:
        lines = [
            (f"{b.name[:18]}: {money(b.amount)}", b.amount)
            for b in budgets
            if b.cost_basis == account.cost_basis and b.month == account.month
        ]
        days = [(d.usage_date, d.cumulative_cost, d.cumulative_lower, d.cumulative_upper) for d in account.days]
        chart = (
            f"<p>Account, <b>{escape(account.cost_basis)} cost</b>, {account.month:%Y-%m} as of {account.as_of_date}:"
            f' spend to date <span id="forecast-spend">{money(account.spend_to_date)} {escape(currency)}</span>,'
            f' month-end forecast <span id="forecast-month-end">{money(account.month_end)} {escape(currency)}</span>'
            f' (80% interval <span id="forecast-interval">{_interval(account.month_end_lower, account.month_end_upper)}'
            f"</span>; model {escape(account.model)}). Dotted lines: account-wide budgets on the same basis.</p>"
            + cumulative_chart(days, account.as_of_date, lines, currency)
        )
    shown = [f for f in outlook.forecasts if f.scope_type in ("account", "workspace", "budget")]
    rows = [_forecast_row(f) for f in shown]
    header = ["scope", "basis", "currency", "as of", "spend to date", "month-end forecast", "80% interval", "model"]
    return chart + table(header, rows, {4, 5, 6}, ident="forecasts")


def _forecast_row(f: Forecast) -> list[str]:
    scope = f.scope_type if f.scope_type == "account" else f"{f.scope_type} {f.label}"
    return [
        scope,
        f.cost_basis,
        f.currency,
        str(f.as_of_date),
        money(f.spend_to_date),
        money(f.month_end),
        _interval(f.month_end_lower, f.month_end_upper),
        f.model,
    ]


def budget_section(outlook: Outlook) -> str:
    """Every budget's latest month: spend against amount, forecast, projected breach, thresholds crossed."""
    if not outlook.budgets_built:
        return NOT_BUILT.format(table="gold.budget_status", what="budgets")
    header = [
        "budget",
        "scope",
        "basis",
        "month",
        "amount",
        "spend to date",
        "used",
        "month-end forecast",
        "forecast used",
        "projected breach",
        "thresholds crossed",
        "status",
    ]
    rows = [
        [
            b.name,
            b.scope,
            b.cost_basis,
            f"{b.month:%Y-%m}",
            f"{money(b.amount)} {b.currency}",
            money(b.spend_to_date),
            percent(b.percent_used),
            f"{money(b.forecast)} ({_interval(b.forecast_lower, b.forecast_upper)})",
            percent(b.forecast_percent),
            "-" if b.breach_date is None else str(b.breach_date),
            ", ".join(f"{t}%" for t in b.thresholds_crossed) or "none",
            b.status,
        ]
        for b in outlook.budgets
    ]
    return table(header, rows, {4, 5, 6, 7, 8}, ident="budgets")


def anomaly_markers(outlook: Outlook, currency: str) -> list[tuple[date, str]]:
    """The account's anomalies in `currency`, one marker per day (the largest deviation), oldest first."""
    by_day: dict[date, Anomaly] = {}
    for a in outlook.anomalies:
        if (a.scope_type, a.currency) != ("account", currency):
            continue
        if a.usage_date not in by_day or abs(a.deviation) > abs(by_day[a.usage_date].deviation):
            by_day[a.usage_date] = a
    return [(day, _note(a)) for day, a in sorted(by_day.items())]


def _note(a: Anomaly) -> str:
    top = a.top_contributor
    what = f"{a.cost_basis} cost {money(a.actual_cost)} against {money(a.expected_cost)} expected"
    return f"{what}; top contributor: {top.label if top else 'none named'}"


def anomaly_section(outlook: Outlook, currency: str) -> str:
    """The numbered markers of the daily chart, then every anomaly with its top contributor."""
    if not outlook.anomalies_built:
        return NOT_BUILT.format(table="gold.cost_anomalies", what="cost anomalies")
    markers = anomaly_markers(outlook, currency)
    marked = "".join(f"<li>{day}: {escape(note)}</li>" for day, note in markers)
    if markers:
        legend = f'<p>Marked on the daily chart:</p><ol class="markers" id="anomaly-markers">{marked}</ol>'
    else:
        legend = f"<p>No account-wide anomaly in {escape(currency)}: the daily chart marks none.</p>"
    header = ["day", "scope", "basis", "expected", "actual", "deviation", "top contributor", "its change", "share"]
    rows = [_anomaly_row(a) for a in outlook.anomalies]
    numeric = {3, 4, 5, 7, 8}
    if len(rows) <= LATEST_SHOWN:
        return legend + table(header, rows, numeric, ident="anomalies")
    return (
        legend
        + f"<p>The {LATEST_SHOWN} newest of {len(rows):,} anomalies (every scope):</p>"
        + table(header, rows[:LATEST_SHOWN], numeric, ident="anomalies-latest")
        + f"<details><summary>all {len(rows):,} anomalies</summary>"
        + table(header, rows, numeric, ident="anomalies")
        + "</details>"
    )


def _anomaly_row(a: Anomaly) -> list[str]:
    top = a.top_contributor
    return [
        str(a.usage_date),
        a.scope,
        a.cost_basis,
        f"{money(a.expected_cost)} {a.currency}",
        money(a.actual_cost),
        f"{money(a.deviation)} ({percent(a.deviation_percent)})",
        top.label if top else "-",
        money(top.change) if top else "-",
        "-" if top is None or top.share_of_change is None else percent(top.share_of_change * 100),
    ]
