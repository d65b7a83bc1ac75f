"""Send the alerts not sent before: read gold, print, post to the webhook, then record them in gold.alert_log.

An alert is recorded only after it went out: posted to the webhook (a 2xx answer), or, with no webhook
configured, printed (recorded with `delivered` false, so the next run does not print it again). When the
webhook fails, nothing is recorded and the next run sends the same alerts again: each is sent once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import functions as F

from pipelines.alerts.messages import Alert, anomaly_alerts, budget_alerts, new_alerts, webhook_payload
from pipelines.errors import WebhookFailed
from pipelines.notify import post_json
from pipelines.storage import TableStore
from pipelines.tables import ALERT_LOG, BUDGET_STATUS, COST_ANOMALIES, TableSpec

WEBHOOK_VARIABLE = "BILLING_LAKEHOUSE_ALERT_WEBHOOK"


@dataclass
class AlertRun:
    """What one alerts run found and did."""

    new: list[Alert] = field(default_factory=list)
    posted: bool = False  # the new alerts were accepted by the webhook
    recorded: bool = False  # ... and written to gold.alert_log
    webhook_error: str | None = None
    missing: list[str] = field(default_factory=list)  # gold tables that do not exist yet


def _rows(store: TableStore, table: TableSpec, where: Any = None) -> list[dict[str, Any]]:
    data = store.read(table)
    if where is not None:
        data = data.where(where)
    return [row.asDict(recursive=True) for row in data.collect()]


def sent_alert_ids(store: TableStore) -> set[str]:
    """Ids of every alert recorded as sent."""
    if store.version(ALERT_LOG) is None:
        return set()
    return {row.alert_id for row in store.read(ALERT_LOG).select("alert_id").collect()}  # covered ones too


def pending_alerts(store: TableStore) -> tuple[list[Alert], list[str]]:
    """(alerts not sent yet: budget crossings, then anomalies; the gold tables missing)."""
    alerts, missing = [], []
    if store.version(BUDGET_STATUS) is None:
        missing.append(str(BUDGET_STATUS))
    else:
        alerts += budget_alerts(_rows(store, BUDGET_STATUS, F.size("thresholds_crossed") > 0))
    if store.version(COST_ANOMALIES) is None:
        missing.append(str(COST_ANOMALIES))
    else:
        alerts += anomaly_alerts(_rows(store, COST_ANOMALIES))
    return new_alerts(alerts, sent_alert_ids(store)), missing


def send_alerts(
    store: TableStore,
    webhook_url: str | None,
    run_id: str,
    post: Callable[[str, dict[str, Any]], int] = post_json,
) -> AlertRun:
    """Find the new alerts, post them (when a webhook is given) and record them once they went out."""
    new, missing = pending_alerts(store)
    result = AlertRun(new=new, missing=missing)
    if not new:
        return result
    if webhook_url:
        try:
            post(webhook_url, webhook_payload(new))
        except WebhookFailed as error:
            result.webhook_error = str(error)
            return result
        result.posted = True
    now = datetime.now(UTC)
    rows = [(alert_id, a.kind, a.subject, a.message, now, result.posted, run_id) for a in new for alert_id in a.ids]
    store.append_rows(ALERT_LOG, rows, {"run_id": run_id, "alerts": len(rows)})
    result.recorded = True
    return result


def describe_alerts(result: AlertRun, webhook_variable: str = WEBHOOK_VARIABLE) -> str:
    """What an alerts run printed: the new alerts, and where they went (never the webhook's URL)."""
    lines = [f"{table} does not exist yet: run `billing-lakehouse run` first" for table in result.missing]
    if not result.new:
        lines.append(
            "no new alerts" + ("" if result.missing else ": every threshold crossed and anomaly was sent before")
        )
        return "\n".join(lines)
    lines.append(f"{len(result.new)} new alerts:")
    lines += [f"  {alert.message}" for alert in result.new]
    if result.webhook_error:
        lines.append(f"NOT SENT: {result.webhook_error}; they are sent again by the next `alerts` run")
    elif result.posted:
        lines.append(f"posted to the webhook in ${webhook_variable} and recorded in {ALERT_LOG}")
    else:
        lines.append(f"no webhook (${webhook_variable} is not set): printed only, recorded in {ALERT_LOG}")
    return "\n".join(lines)
