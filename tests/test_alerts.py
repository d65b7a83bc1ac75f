"""`billing-lakehouse alerts` against a real webhook server on 127.0.0.1: each alert sent once, failures retried."""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from pipelines import notify
from pipelines.alerts.messages import anomaly_alerts, budget_alerts, new_alerts, webhook_payload
from pipelines.cli import main
from pipelines.config import load_config
from pipelines.storage import Replace, TableStore, open_store
from pipelines.tables import ALERT_LOG, BUDGET_STATUS, COST_ANOMALIES
from tests.api_servers import Answer, Request, serve
from tests.conftest import write_config

WEBHOOK = "BILLING_LAKEHOUSE_ALERT_WEBHOOK"
SECRET_PATH = "/services/T0000/B0000/webhook-secret-path-42"
APRIL = date(2024, 4, 1)


def _status(name: str, crossed: list[int], spend: str = "8500") -> tuple[Any, ...]:
    return (
        APRIL,
        name,
        "config",
        "USD",
        "contracted",
        Decimal("10000"),
        date(2024, 4, 20),
        Decimal(spend),
        Decimal(spend) / 100,
        Decimal("12750.00"),
        Decimal("11900.00"),
        Decimal("13600.00"),
        Decimal("127.5"),
        date(2024, 4, 24),
        [50, 80, 100],
        crossed,
        "over_forecast",
    )


def _anomaly(anomaly_id: str, day: date) -> tuple[Any, ...]:
    contributor = (
        "job",
        "job-7",
        "nightly-etl",
        Decimal("950"),
        Decimal("50"),
        Decimal("900"),
        Decimal("0.9"),
    )
    return (
        anomaly_id,
        day,
        "workspace",
        "1111111111111111",
        "prod",
        "USD",
        "contracted",
        Decimal("1300"),
        Decimal("300"),
        Decimal("1000"),
        Decimal("333.333333"),
        "up",
        [contributor],
    )


def _write(
    spark: SparkSession, store: TableStore, statuses: list[tuple[Any, ...]], anomalies: list[tuple[Any, ...]]
) -> None:
    store.write(BUDGET_STATUS, spark.createDataFrame(statuses, BUDGET_STATUS.schema()), Replace.all(), {})
    store.write(COST_ANOMALIES, spark.createDataFrame(anomalies, COST_ANOMALIES.schema()), Replace.all(), {})


def _warehouse(spark: SparkSession, tmp_path: Path, storage: str = "delta-rs") -> tuple[str, TableStore]:
    """A config and its store holding one budget past 50% and 80%, one under, and one anomaly."""
    path = write_config(tmp_path, None, None, storage=storage)
    store = open_store(spark, load_config(path))
    _write(
        spark, store, [_status("account", [50, 80]), _status("sandbox", [], "10")], [_anomaly("a-1", date(2024, 4, 12))]
    )
    return str(path), store


@pytest.fixture
def warehouse(spark: SparkSession, tmp_path: Path) -> tuple[str, TableStore]:
    return _warehouse(spark, tmp_path)


class Webhook:
    """Answers each POST with the next of `answers` (then 200), keeping every payload."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.payloads: list[dict[str, Any]] = []
        self.times: list[float] = []

    def __call__(self, request: Request) -> Answer:
        self.times.append(time.monotonic())
        if request.path != SECRET_PATH:
            return Answer(404, b"no such hook")
        self.payloads.append(json.loads(request.body))
        return self.answers.pop(0) if self.answers else Answer(200, b"ok")


def _alerts(config: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["alerts", "--config", config])
    out, err = capsys.readouterr()
    assert SECRET_PATH not in out + err and "webhook-secret" not in out + err  # the URL is a credential
    return code, out


def _sent(store: TableStore) -> dict[str, bool]:
    if store.version(ALERT_LOG) is None:
        return {}
    return {row.alert_id: row.delivered for row in store.read(ALERT_LOG).collect()}


def test_new_alerts_are_posted_once_with_a_slack_text_and_recorded(
    spark: SparkSession,
    warehouse: tuple[str, TableStore],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, store = warehouse
    hook = Webhook()
    with serve(hook) as (url, _):
        monkeypatch.setenv(WEBHOOK, url + SECRET_PATH)
        code, out = _alerts(config, capsys)
        assert code == 5
        (payload,) = hook.payloads
        assert payload["text"].startswith("billing-lakehouse: 1 budget threshold(s) crossed, 1 cost anomaly(ies)")
        assert (
            "Budget 'account' (config) crossed 80% in 2024-04: 8,500.00 USD spent of 10,000.00 USD" in payload["text"]
        )
        assert "top contributor job nightly-etl (+900.00 USD, 90% of the change)" in payload["text"]
        ids = [alert["alert_id"] for alert in payload["alerts"]]
        assert ids == ["budget/config/account/2024-04/80", "anomaly/a-1"]  # the highest new threshold tells
        assert payload["alerts"][0]["covers"] == ["budget/config/account/2024-04/50"]
        anomaly = payload["alerts"][1]
        assert anomaly["actual_cost"] == "1300.000000000000000000" and anomaly["usage_date"] == "2024-04-12"
        assert anomaly["top_contributors"][0]["name"] == "nightly-etl"
        assert "2 new alerts" in out and "posted to the webhook in $BILLING_LAKEHOUSE_ALERT_WEBHOOK" in out
        assert _sent(store) == dict.fromkeys([*ids, "budget/config/account/2024-04/50"], True)

        code, out = _alerts(config, capsys)  # nothing new: nothing posted
        assert code == 0 and len(hook.payloads) == 1 and "no new alerts" in out

        anomalies = [_anomaly("a-1", date(2024, 4, 12)), _anomaly("a-2", date(2024, 4, 19))]
        _write(spark, store, [_status("account", [50, 80])], anomalies)
        code, _ = _alerts(config, capsys)
        assert code == 5 and [a["alert_id"] for a in hook.payloads[-1]["alerts"]] == ["anomaly/a-2"]

        _write(spark, store, [_status("account", [50, 80, 100], "10100")], anomalies)  # the budget is spent
        code, _ = _alerts(config, capsys)
        assert code == 5 and [a["alert_id"] for a in hook.payloads[-1]["alerts"]] == [
            "budget/config/account/2024-04/100"
        ]


def test_a_throttled_webhook_is_retried_after_its_retry_after(
    warehouse: tuple[str, TableStore], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, store = warehouse
    hook = Webhook(Answer(429, b"rate limited", {"Retry-After": "1"}))
    with serve(hook) as (url, _):
        monkeypatch.setenv(WEBHOOK, url + SECRET_PATH)
        code, _ = _alerts(config, capsys)
    assert code == 5 and len(hook.payloads) == 2 and hook.payloads[0] == hook.payloads[1]
    assert hook.times[1] - hook.times[0] >= 1.0
    assert len(_sent(store)) == 3


def test_a_failing_webhook_records_nothing_and_the_next_run_sends_the_same_alerts_once(
    warehouse: tuple[str, TableStore], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, store = warehouse
    monkeypatch.setattr(notify, "FIRST_BACKOFF_SECONDS", 0.01)
    hook = Webhook(*[Answer(500, b"internal error")] * notify.MAX_ATTEMPTS)
    with serve(hook) as (url, _):
        monkeypatch.setenv(WEBHOOK, url + SECRET_PATH)
        code, out = _alerts(config, capsys)
        assert code == 6 and len(hook.payloads) == notify.MAX_ATTEMPTS
        assert "NOT SENT: the alert webhook failed 5 times, the last with HTTP 500: internal error" in out
        assert _sent(store) == {}

        code, _ = _alerts(config, capsys)  # the webhook is back: the same three go out, once
        assert code == 5 and len(hook.payloads[-1]["alerts"]) == 2 and len(_sent(store)) == 3
        assert _alerts(config, capsys)[0] == 0 and len(hook.payloads) == notify.MAX_ATTEMPTS + 1


def test_a_refused_post_is_not_retried(
    warehouse: tuple[str, TableStore], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, store = warehouse
    hook = Webhook(Answer(400, b"invalid_payload"))
    with serve(hook) as (url, _):
        monkeypatch.setenv(WEBHOOK, url + SECRET_PATH)
        code, out = _alerts(config, capsys)
    assert code == 6 and len(hook.payloads) == 1 and "HTTP 400: invalid_payload" in out and _sent(store) == {}


def test_an_unreachable_webhook_fails_without_naming_its_url(
    warehouse: tuple[str, TableStore], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, store = warehouse
    monkeypatch.setattr(notify, "FIRST_BACKOFF_SECONDS", 0.01)
    with serve(Webhook()) as (url, _):
        pass  # the server is gone: connections are refused
    monkeypatch.setenv(WEBHOOK, url + SECRET_PATH)
    code, out = _alerts(config, capsys)
    assert code == 6 and "ConnectionError (no answer)" in out and _sent(store) == {}


def test_without_a_webhook_alerts_are_printed_and_recorded_as_not_delivered(
    spark: SparkSession,
    tmp_path: Path,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, store = _warehouse(spark, tmp_path, backend)
    monkeypatch.delenv(WEBHOOK, raising=False)
    code, out = _alerts(config, capsys)
    assert code == 5 and "Cost anomaly on 2024-04-12 in workspace prod (1111111111111111)" in out
    assert "no webhook ($BILLING_LAKEHOUSE_ALERT_WEBHOOK is not set): printed only" in out and "2 new alerts" in out
    assert set(_sent(store).values()) == {False} and len(_sent(store)) == 3
    assert _alerts(config, capsys)[0] == 0


def test_before_gold_exists_there_is_nothing_to_alert(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(WEBHOOK, raising=False)
    code, out = _alerts(str(write_config(tmp_path, None, None)), capsys)
    assert code == 0 and "gold.budget_status does not exist yet" in out


def test_an_alert_per_threshold_crossed_and_exact_amounts_in_the_payload(spark: SparkSession) -> None:
    status = dict(zip(BUDGET_STATUS.schema().names, _status("team", [100, 50]), strict=True))
    alerts = budget_alerts([status])
    assert [a.alert_id for a in alerts] == ["budget/config/team/2024-04/50", "budget/config/team/2024-04/100"]
    assert "projected to exceed the amount on 2024-04-24" in alerts[0].message
    (told,) = new_alerts(alerts, [])
    assert told.alert_id == "budget/config/team/2024-04/100" and told.covers == ("budget/config/team/2024-04/50",)
    assert new_alerts(alerts, ["budget/config/team/2024-04/50"]) == [alerts[1]]
    anomaly = dict(zip(COST_ANOMALIES.schema().names, _anomaly("x", date(2024, 4, 2)), strict=True))
    anomaly["top_contributors"] = [
        dict(
            zip(
                ("kind", "id", "name", "actual_cost", "expected_cost", "change", "share_of_change"),
                anomaly["top_contributors"][0],
                strict=True,
            )
        )
    ]
    payload = webhook_payload([*alerts, *anomaly_alerts([anomaly])])
    assert payload["alerts"][0]["amount"] == "10000" and payload["alerts"][2]["deviation"] == "1000"
    json.dumps(payload)  # plain JSON: decimals as exact text, dates as ISO
