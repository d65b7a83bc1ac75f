"""The account's own budgets through the real databricks-sdk against a loopback server, landed and mapped to silver."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from pipelines.bronze.ingest_log import Run
from pipelines.bronze.land_account_budgets import land_account_budgets
from pipelines.cli import main
from pipelines.config import PipelineConfig, load_config
from pipelines.errors import CredentialsRejected, SourceApiError
from pipelines.silver.refresh_budgets import refresh_budgets
from pipelines.storage import TableStore, open_store
from pipelines.tables import ACCOUNT_BUDGETS, BUDGETS, INGEST_LOG
from tests.api_servers import Answer, Request, serve
from tests.conftest import write_config

ACCOUNT = "acc-0001"
TOKEN = "dapi-budget-secret-token-0123"


def _alert(threshold: str, period: str = "MONTH") -> dict[str, Any]:
    return {
        "quantity_threshold": threshold,
        "quantity_type": "LIST_PRICE_DOLLARS_USD",
        "time_period": period,
        "trigger_type": "CUMULATIVE_SPENDING_EXCEEDED",
        "action_configurations": [{"action_type": "EMAIL_NOTIFICATION", "target": "finops@example.com"}],
    }


def _tag(key: str, *values: str) -> dict[str, Any]:
    return {"key": key, "value": {"operator": "IN", "values": list(values)}}


ACCOUNT_WIDE = {
    "budget_configuration_id": "b-1",
    "display_name": "account monthly",
    "account_id": ACCOUNT,
    "alert_configurations": [_alert("10000"), _alert("5000"), _alert("500", "DAY")],
}
TEAM = {
    "budget_configuration_id": "b-2",
    "display_name": "data team",
    "alert_configurations": [_alert("1200.50")],
    "filter": {
        "workspace_id": {"operator": "IN", "values": [2222222222222222, 1111111111111111]},
        "tags": [_tag("team", "data")],
    },
}
TWO_TAGS = {
    "budget_configuration_id": "b-3",
    "display_name": "two tags",
    "alert_configurations": [_alert("300")],
    "filter": {"tags": [_tag("team", "data"), _tag("env", "prod")]},
}
DAILY_ONLY = {"budget_configuration_id": "b-4", "display_name": "daily", "alert_configurations": [_alert("50", "DAY")]}


class AccountBudgets:
    """`GET /api/2.1/accounts/{id}/budgets`, two budgets a page; `faults` answers instead of the list."""

    def __init__(self, budgets: list[dict[str, Any]]) -> None:
        self.budgets = budgets
        self.fault: Answer | None = None

    def __call__(self, request: Request) -> Answer:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Answer.json({"error_code": "UNAUTHENTICATED", "message": "no token"}, 401)
        if request.path != f"/api/2.1/accounts/{ACCOUNT}/budgets":
            return Answer.json({"error_code": "NOT_FOUND", "message": request.path}, 404)
        if self.fault is not None:
            return self.fault
        start = int(request.query.get("page_token", "0"))
        page: dict[str, Any] = {"budgets": self.budgets[start : start + 2]}
        if start + 2 < len(self.budgets):
            page["next_page_token"] = str(start + 2)
        return Answer.json(page)


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABRICKS_HOST", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)


def _config(tmp_path: Path, url: str, budgets: str = "", storage: str = "delta-rs") -> PipelineConfig:
    source = f"  account_budgets:\n    host: {url}\n    timeout_seconds: 5\n"
    extra = f"account_id: {ACCOUNT}\n{budgets}"
    path = write_config(tmp_path, None, None, extra=extra, sources=source, storage=storage)
    return load_config(path)


def _land(store: TableStore, config: PipelineConfig) -> int | None:
    assert config.account_budgets is not None
    return land_account_budgets(store, config.account_budgets, ACCOUNT, Run()).bronze_version


def test_account_budgets_land_as_delivered_and_map_to_silver_next_to_configured_ones(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = AccountBudgets([ACCOUNT_WIDE, TEAM, TWO_TAGS, DAILY_ONLY])
    configured = 'budgets:\n  - {name: jobs, amount: "800", cost_basis: effective, scope: {sku: "*JOBS*"}}\n'
    with serve(api) as (url, seen):
        config = _config(tmp_path, url, configured)
        store = open_store(spark, config)
        assert _land(store, config) == 0
    assert [r.query.get("page_token") for r in seen if r.path.endswith("/budgets")] == [None, "2"]  # every page

    bronze = {row["budget_configuration_id"]: row for row in store.read_rows(ACCOUNT_BUDGETS)}
    assert sorted(bronze) == ["b-1", "b-2", "b-3", "b-4"]
    assert json.loads(bronze["b-2"]["configuration_json"])["filter"] == TEAM["filter"]
    assert bronze["b-1"]["_source"] == "account_budgets" and bronze["b-1"]["_source_file"].endswith("/budgets")

    with caplog.at_level(logging.WARNING):
        assert refresh_budgets(store, config) == 0
    expected = spark.createDataFrame(
        [
            ("account monthly", "account", Decimal("10000"), "USD", "list", None, None, None, None, [50, 100]),
            (
                "data team",
                "account",
                Decimal("1200.50"),
                "USD",
                "list",
                ["1111111111111111", "2222222222222222"],
                "team",
                "data",
                None,
                [100],
            ),
            ("jobs", "config", Decimal("800"), "USD", "effective", None, None, None, "*JOBS*", [50, 80, 100]),
        ],
        BUDGETS.schema(),
    )
    assert_df_equality(store.read(BUDGETS), expected, ignore_row_order=True, ignore_nullable=True)
    assert "'two tags' (b-3) skipped: filter on 2 tags" in caplog.text
    assert "'daily' (b-4) skipped: no shared monthly cumulative-spend alert" in caplog.text


def test_unchanged_budgets_write_nothing_and_a_changed_or_switched_off_source_rewrites(
    spark: SparkSession, tmp_path: Path, backend: str
) -> None:
    api = AccountBudgets([ACCOUNT_WIDE])
    with serve(api) as (url, _):
        config = _config(tmp_path, url, storage=backend)
        store = open_store(spark, config)
        assert _land(store, config) == 0 and refresh_budgets(store, config) == 0
        assert _land(store, config) is None and refresh_budgets(store, config) is None  # nothing changed
        api.budgets = [ACCOUNT_WIDE, TEAM]
        assert _land(store, config) == 1 and refresh_budgets(store, config) == 1
    assert store.read(BUDGETS).count() == 2
    off = load_config(config.source_file, ["sources.account_budgets.host="])
    assert refresh_budgets(store, off) == 2 and store.read(BUDGETS).count() == 0


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_name_what_to_check_and_never_the_token(
    spark: SparkSession, tmp_path: Path, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    api = AccountBudgets([ACCOUNT_WIDE])
    code = "UNAUTHENTICATED" if status == 401 else "PERMISSION_DENIED"
    api.fault = Answer.json({"error_code": code, "message": f"token {TOKEN} is not allowed"}, status)
    with caplog.at_level(logging.DEBUG), serve(api) as (url, _):
        config = _config(tmp_path, url)
        store = open_store(spark, config)
        with pytest.raises(CredentialsRejected) as raised:
            _land(store, config)
    message = str(raised.value)
    assert f"HTTP {status}" in message and "DATABRICKS_TOKEN" in message
    assert TOKEN not in message and TOKEN not in caplog.text
    (failed,) = store.read_rows(INGEST_LOG)
    assert failed["status"] == "failed" and failed["source"] == "account_budgets" and TOKEN not in failed["error"]
    assert store.version(ACCOUNT_BUDGETS) is None


def test_a_failing_budgets_api_fails_the_run_without_the_token_and_other_sources_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = AccountBudgets([])
    api.fault = Answer.json({"error_code": "INTERNAL_ERROR", "message": f"echo Bearer {TOKEN}"}, 500)
    with serve(api) as (url, _):
        config = _config(tmp_path, url)
        code = main(["ingest", "--config", config.source_file, "--set", "sources.account_budgets.timeout_seconds=1"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "account-budgets: Account API budgets" in out
    assert TOKEN not in out and TOKEN not in err


def test_an_unreadable_answer_is_a_source_error(spark: SparkSession, tmp_path: Path) -> None:
    api = AccountBudgets([])
    api.fault = Answer.json({"error_code": "INVALID_PARAMETER_VALUE", "message": "bad page token"}, 400)
    with serve(api) as (url, _):
        config = _config(tmp_path, url)
        with pytest.raises(SourceApiError, match="bad page token"):
            _land(open_store(spark, config), config)
