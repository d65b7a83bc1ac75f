"""Alerts from gold rows, pure: one per budget threshold crossed in a month and one per cost anomaly.

An alert's id is stable across runs (budget, source, month and threshold; the anomaly's own id), so
comparing ids with gold.alert_log says which are new. The webhook payload carries a Slack-compatible
`text` (one line per alert) and the alerts' fields for machines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

BUDGET = "budget_threshold"
ANOMALY = "cost_anomaly"
MAX_TEXT_LINES = 30  # more alerts than this in one post: the text says how many more, the fields hold them all


@dataclass(frozen=True)
class Alert:
    """One thing that needs attention: its stable id, kind, what it is about, a readable line and its fields."""

    alert_id: str
    kind: str
    subject: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    covers: tuple[str, ...] = ()  # lower thresholds of the same budget and month, new in the same run: settled by it

    @property
    def ids(self) -> tuple[str, ...]:
        """Every alert id this alert settles (its own first)."""
        return (self.alert_id, *self.covers)


def _money(value: Decimal | None, currency: str) -> str:
    return "unknown" if value is None else f"{value:,.2f} {currency}"


def _percent(value: Decimal | None) -> str:
    return "unknown" if value is None else f"{value:,.1f}%"


def budget_alerts(status_rows: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """An alert for each threshold in `thresholds_crossed` of each budget and month (gold.budget_status rows)."""
    alerts = []
    for row in status_rows:
        month = f"{row['month']:%Y-%m}"
        name, source, currency = row["budget_name"], row["budget_source"], row["currency_code"]
        for threshold in sorted(row["thresholds_crossed"] or []):
            forecast = ""
            if row.get("forecast_month_end") is not None:
                forecast = (
                    f"; forecast at month end {_money(row['forecast_month_end'], currency)}"
                    f" ({_percent(row.get('forecast_percent'))})"
                )
            if row.get("projected_breach_date") is not None:
                forecast += f", projected to exceed the amount on {row['projected_breach_date']:%Y-%m-%d}"
            message = (
                f"Budget {name!r} ({source}) crossed {threshold}% in {month}: {_money(row['spend_to_date'], currency)}"
                f" spent of {_money(row['amount'], currency)} ({_percent(row['percent_used'])}, {row['cost_basis']}"
                f" cost, as of {row['as_of_date']:%Y-%m-%d}){forecast}"
            )
            alerts.append(
                Alert(
                    alert_id=f"budget/{source}/{name}/{month}/{threshold}",
                    kind=BUDGET,
                    subject=f"budget {name} ({source})",
                    message=message,
                    fields={
                        "budget_name": name,
                        "budget_source": source,
                        "month": month,
                        "threshold_percent": threshold,
                        **{
                            key: row.get(key)
                            for key in (
                                "currency_code",
                                "cost_basis",
                                "amount",
                                "as_of_date",
                                "spend_to_date",
                                "percent_used",
                                "forecast_month_end",
                                "forecast_lower",
                                "forecast_upper",
                                "projected_breach_date",
                                "status",
                            )
                        },
                    },
                )
            )
    return sorted(
        alerts,
        key=lambda a: (
            a.fields["month"],
            a.fields["budget_source"],
            a.fields["budget_name"],
            a.fields["threshold_percent"],
        ),
    )


def _contributor(contributors: Sequence[Mapping[str, Any]] | None, currency: str) -> str:
    if not contributors:
        return ""
    top = contributors[0]
    label = top.get("name") or top.get("id")
    share = top.get("share_of_change")
    share_text = "" if share is None else f", {share * 100:,.0f}% of the change"
    change = top.get("change")
    change_text = "" if change is None else f"{change:+,.2f} {currency}"
    return f"; top contributor {top.get('kind')} {label} ({change_text}{share_text})"


def anomaly_alerts(anomaly_rows: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """An alert for each gold.cost_anomalies row."""
    alerts = []
    for row in anomaly_rows:
        currency = row["currency_code"]
        scope = f"{row['scope_type']} {row['scope_name'] or row['scope_id']}"
        if row.get("scope_name") and row["scope_name"] != row["scope_id"]:
            scope += f" ({row['scope_id']})"
        day: date = row["usage_date"]
        deviation = row.get("deviation")
        message = (
            f"Cost anomaly on {day:%Y-%m-%d} in {scope}: {_money(row['actual_cost'], currency)} against"
            f" {_money(row['expected_cost'], currency)} expected"
            f" ({'' if deviation is None else f'{deviation:+,.2f}, '}{_percent(row.get('deviation_percent'))},"
            f" {row['direction']}, {row['cost_basis']} cost)"
            f"{_contributor(row.get('top_contributors'), currency)}"
        )
        contributors = [dict(c) for c in row.get("top_contributors") or []]
        alerts.append(
            Alert(
                alert_id=f"anomaly/{row['anomaly_id']}",
                kind=ANOMALY,
                subject=scope,
                message=message,
                fields={
                    "anomaly_id": row["anomaly_id"],
                    "usage_date": day,
                    **{
                        key: row.get(key)
                        for key in (
                            "scope_type",
                            "scope_id",
                            "scope_name",
                            "currency_code",
                            "cost_basis",
                            "actual_cost",
                            "expected_cost",
                            "deviation",
                            "deviation_percent",
                            "direction",
                        )
                    },
                    "top_contributors": contributors,
                },
            )
        )
    return sorted(alerts, key=lambda alert: (str(alert.fields["usage_date"]), alert.alert_id))


def new_alerts(alerts: Iterable[Alert], sent_ids: Iterable[str]) -> list[Alert]:
    """The alerts whose id was never sent, in their order; a budget month's new thresholds as one alert.

    When several thresholds of one budget and month are new together (a first run, a big day), only the
    highest is told, and it settles the lower ones (`covers`): one line says where spend stands.
    """
    seen = set(sent_ids)
    fresh: list[Alert] = []
    highest: dict[tuple[str, str, str], int] = {}  # budget source, name, month -> index in fresh
    for alert in alerts:
        if alert.alert_id in seen:
            continue
        seen.add(alert.alert_id)
        if alert.kind != BUDGET:
            fresh.append(alert)
            continue
        key = (alert.fields["budget_source"], alert.fields["budget_name"], alert.fields["month"])
        if key not in highest:
            highest[key] = len(fresh)
            fresh.append(alert)
            continue
        lower = fresh[highest[key]]
        if alert.fields["threshold_percent"] < lower.fields["threshold_percent"]:
            alert, lower = lower, alert
        fresh[highest[key]] = replace(alert, covers=tuple(sorted({*alert.covers, *lower.ids})))
    return fresh


def summary_text(alerts: Sequence[Alert]) -> str:
    """The Slack-compatible text: a headline, then one line per alert (at most MAX_TEXT_LINES)."""
    budgets = sum(alert.kind == BUDGET for alert in alerts)
    anomalies = len(alerts) - budgets
    lines = [f"billing-lakehouse: {budgets} budget threshold(s) crossed, {anomalies} cost anomaly(ies)"]
    lines += [f"• {alert.message}" for alert in alerts[:MAX_TEXT_LINES]]
    if len(alerts) > MAX_TEXT_LINES:
        lines.append(f"… and {len(alerts) - MAX_TEXT_LINES} more (see `alerts` in this payload)")
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact, never through float
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def webhook_payload(alerts: Sequence[Alert]) -> dict[str, Any]:
    """The JSON posted to the webhook: Slack's `text`, and every alert with its fields (decimals as exact text)."""
    return {
        "text": summary_text(alerts),
        "alerts": [
            {
                "alert_id": a.alert_id,
                "kind": a.kind,
                "subject": a.subject,
                "message": a.message,
                "covers": list(a.covers),
                **_jsonable(a.fields),
            }
            for a in alerts
        ],
    }
