"""The report's per-workspace view, list/effective/contracted per month, untagged share, period and generation time,
month to date with the forecast band and budget lines, and the anomalies marked on the daily chart: every figure on
the page equals a sum Spark computes from gold (and, for the untagged share, from gold.cost itself)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig, load_config
from pipelines.report import build_report
from pipelines.report.blocks import percent
from pipelines.report.charts import date_ticks, money, nice_ticks
from pipelines.report.outlook import Anomaly, Outlook
from pipelines.report.outlook_html import anomaly_section
from pipelines.runner import run_pipeline
from pipelines.storage import Replace, TableStore, open_store
from pipelines.storage.delta_rs import DeltaRsReader
from pipelines.summary import cost_summary
from pipelines.tables import BUDGET_STATUS, COST, COST_ANOMALIES, COST_DAILY, COST_FORECAST
from tests.browser import render
from tests.conftest import REPO
from tests.outlook_warehouse import ANALYTICS, ML, RUNAWAY, build_config

NOW = datetime(2024, 3, 21, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def warehouse(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> PipelineConfig:
    config = build_config(spark, tmp_path_factory.mktemp("outlook"))
    store = open_store(spark, config)
    run_pipeline(spark, config, store)
    assert all(store.version(spec) is not None for spec in (COST_FORECAST, BUDGET_STATUS, COST_ANOMALIES))
    return config


@pytest.fixture(scope="module")
def page(warehouse: PipelineConfig) -> str:
    return build_report(DeltaRsReader(warehouse.warehouse), "USD", warehouse.workspace_names, NOW)


def _cells(page: str, table_id: str) -> list[list[str]]:
    """The text of each body row of the table with `table_id`."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, table_id
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1))]


def _store(spark: SparkSession, config: PipelineConfig) -> TableStore:
    return open_store(spark, config)


def test_header_says_the_reporting_period_and_when_it_was_generated(spark, warehouse, page):
    daily = _store(spark, warehouse).read(COST_DAILY)
    first, last = daily.agg(F.min("usage_date"), F.max("usage_date")).collect()[0]
    assert f'<span id="period">{first} .. {last}</span>' in page
    assert '<span id="generated-at">2024-03-21 06:30 UTC</span>' in page


def test_list_effective_and_contracted_cost_per_month_and_per_workspace_equal_gold(spark, warehouse, page):
    daily = _store(spark, warehouse).read(COST_DAILY).where("currency_code = 'USD'")
    sums = [F.sum(c).alias(c) for c in ("list_cost", "effective_cost", "contracted_cost")]
    months = daily.groupBy(F.date_format("usage_date", "yyyy-MM").alias("month")).agg(*sums).orderBy("month")
    assert _cells(page, "per-month") == [
        [r.month, money(r.list_cost), money(r.effective_cost), money(r.contracted_cost)] for r in months.collect()
    ]
    names = {ANALYTICS: "analytics", ML: "ml platform"}
    workspaces = {
        r.workspace_id: [
            names[r.workspace_id],
            r.workspace_id,
            money(r.list_cost),
            money(r.effective_cost),
            money(r.contracted_cost),
        ]
        for r in daily.groupBy("workspace_id").agg(*sums).collect()
    }
    assert sorted(_cells(page, "workspaces")) == sorted(workspaces.values())
    assert len(workspaces) == 2


def test_untagged_share_per_key_equals_the_cost_of_records_without_that_key(spark, warehouse, page):
    cost = _store(spark, warehouse).read(COST).where("is_priced AND currency_code = 'USD'")
    total = cost.agg(F.sum("effective_cost")).collect()[0][0]
    rows = {row[0]: row for row in _cells(page, "untagged")}
    assert set(rows) == {"team", "env"}
    for key in ("team", "env"):
        without = cost.where(F.col("custom_tags").getItem(key).isNull()).agg(F.sum("effective_cost")).collect()[0][0]
        assert rows[key] == [key, money(total - without), money(without), percent(without / total * 100)]
    untagged = cost.where("custom_tags IS NULL OR size(custom_tags) = 0").agg(F.sum("effective_cost")).collect()[0][0]
    # Every tagged record here carries `team`: the headline's bound is then exactly the untagged share.
    assert f'id="untagged-share">{percent(untagged / total * 100)}</span>' in page


def test_month_to_date_shows_the_account_forecast_with_its_band_and_the_account_budget(spark, warehouse, page):
    store = _store(spark, warehouse)
    account = store.read(COST_FORECAST).where("scope_type = 'account' AND currency_code = 'USD'")
    basis = "contracted"
    row = account.where(f"cost_basis = '{basis}' AND usage_date = as_of_date").collect()[0]
    daily = store.read(COST_DAILY).where(
        f"currency_code = 'USD' AND usage_date BETWEEN '{row.month}' AND '{row.as_of_date}'"
    )
    spend = daily.agg(F.sum("contracted_cost")).collect()[0][0]
    assert row.cumulative_cost == spend  # the forecast starts from gold's netted spend
    assert f'<span id="forecast-spend">{money(spend)} USD</span>' in page
    assert f'<span id="forecast-month-end">{money(row.month_end_forecast)} USD</span>' in page
    assert f'<span id="forecast-interval">{money(row.month_end_lower)} .. {money(row.month_end_upper)}</span>' in page
    assert page.count('class="forecast-band"') == 1 and page.count('class="actual-line"') == 1
    budgets = store.read(BUDGET_STATUS).where("budget_name = 'account monthly'").collect()
    assert f"account monthly: {money(budgets[0].amount)}" in page
    assert page.count('class="budget-line"') == 1  # the workspace budget is listed, not drawn against the account
    listed = {r[0]: r for r in _cells(page, "budgets")}
    for b in store.read(BUDGET_STATUS).collect():
        cells = listed[b.budget_name]
        assert cells[4:8] == [
            f"{money(b.amount)} USD",
            money(b.spend_to_date),
            percent(b.percent_used),
            f"{money(b.forecast_month_end)} ({money(b.forecast_lower)} .. {money(b.forecast_upper)})",
        ]
        assert cells[9] == ("-" if b.projected_breach_date is None else str(b.projected_breach_date))
    assert listed["ml platform"][1] == f"workspaces {ML}"


def test_anomalies_are_marked_on_the_daily_chart_and_listed_with_their_top_contributor(spark, warehouse, page):
    anomalies = _store(spark, warehouse).read(COST_ANOMALIES).collect()
    account_days = {a.usage_date for a in anomalies if a.scope_type == "account" and a.currency_code == "USD"}
    assert page.count('class="anomaly-marker"') == len(account_days) >= 1
    listed = _cells(page, "anomalies")
    assert len(listed) == len(anomalies)
    for a in anomalies:
        top = a.top_contributors[0]
        expected = [str(a.usage_date), money(a.expected_cost) + f" {a.currency_code}", money(a.actual_cost)]
        assert any(row[0:1] + row[3:5] == expected and row[6] == f"{top.kind} {top.name or top.id}" for row in listed)


def test_a_warehouse_without_the_forecast_tables_says_so_and_renders_the_rest(spark, warehouse, tmp_path):
    copy = tmp_path / "warehouse"
    shutil.copytree(warehouse.warehouse, copy)
    for spec in (COST_FORECAST, BUDGET_STATUS, COST_ANOMALIES):
        shutil.rmtree(copy / spec.layer / spec.name)
    page = build_report(DeltaRsReader(str(copy)), "USD", {}, NOW)
    for table in ("gold.cost_forecast", "gold.budget_status", "gold.cost_anomalies"):
        assert f"{table} is not built yet" in page
    assert '<table id="per-month">' in page and f"<td>-</td><td>{ANALYTICS}</td>" in page


def test_axes_have_round_amounts_and_readable_dates():
    assert nice_ticks(87.3) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0.0) == [0.0, 1.0]
    days = date_ticks(datetime(2024, 2, 1).date(), datetime(2024, 3, 20).date())
    assert len(days) <= 10 and days[0][1] == "2024-02-01" and days[1][1] == "2024-02-08"
    months = date_ticks(datetime(2023, 1, 15).date(), datetime(2024, 3, 20).date())
    assert [label for _, label in months][:2] == ["2023-02", "2023-04"] and len(months) <= 10


def test_the_new_parts_render_in_a_headless_browser(spark, warehouse, tmp_path):
    out = tmp_path / "report.html"
    out.write_text(build_report(DeltaRsReader(warehouse.warehouse), "USD", warehouse.workspace_names, NOW))
    seen = render(out, selectors=("#period", "#forecast-spend", "#forecast-month-end", "#anomaly-markers", "#budgets"))
    assert seen.problems == [] and seen.requests == [out.resolve().as_uri()]
    assert len(seen.svg_boxes) >= 6  # forecast, daily, per month, per workspace, month to date, workloads, tags
    for width, height, shapes in seen.svg_boxes:
        assert width > 100 and height > 20 and shapes > 0, seen.svg_boxes
    assert seen.texts["#period"] == "2024-02-01 .. 2024-03-20"
    assert "top contributor: job runaway backfill" in seen.texts["#anomaly-markers"]
    store = _store(spark, warehouse)
    account = store.read(COST_FORECAST).where("scope_type = 'account' AND cost_basis = 'contracted'")
    row = account.where("usage_date = as_of_date").collect()[0]
    assert seen.texts["#forecast-spend"] == f"{money(row.cumulative_cost)} USD"
    assert seen.texts["#forecast-month-end"] == f"{money(row.month_end_forecast)} USD"
    for budget in store.read(BUDGET_STATUS).collect():
        assert f"{budget.budget_name}\t" in seen.texts["#budgets"]
        assert f"\t{money(budget.spend_to_date)}\t{percent(budget.percent_used)}\t" in seen.texts["#budgets"]
    assert seen.screenshot.startswith(b"\x89PNG")
    target = os.environ.get("BILLING_LAKEHOUSE_REPORT_SCREENSHOT")  # to look at it: set a path
    if target:
        Path(target).write_bytes(seen.screenshot)


def test_summary_shows_the_forecasts_budgets_and_latest_anomalies(spark, warehouse):
    text = cost_summary(DeltaRsReader(warehouse.warehouse), workspace_names=warehouse.workspace_names)
    store = _store(spark, warehouse)
    forecast = store.read(COST_FORECAST).where("usage_date = as_of_date AND scope_type IN ('account', 'workspace')")
    assert "Month-end forecast (account and per workspace; 80% interval)" in text
    for f in forecast.collect():
        scope = "account" if f.scope_type == "account" else f"workspace {warehouse.workspace_names[f.scope_id]}"
        line = next(line for line in text.splitlines() if line.strip().startswith(scope) and f.cost_basis in line)
        assert f"{money(f.cumulative_cost)}" in line and f"{money(f.month_end_forecast)}" in line
        assert f"{money(f.month_end_lower)}..{money(f.month_end_upper)} USD" in line
    for b in store.read(BUDGET_STATUS).collect():
        crossed = ", ".join(f"{t}%" for t in b.thresholds_crossed) or "none"
        assert f"{b.budget_name} (" in text
        assert f"{money(b.spend_to_date)} of {money(b.amount)} USD ({percent(b.percent_used)})" in text
        assert f"forecast {money(b.forecast_month_end)} ({percent(b.forecast_percent)}," in text
        assert f"thresholds crossed: {crossed}; {b.status}" in text
    for a in store.read(COST_ANOMALIES).collect():
        top = a.top_contributors[0]
        assert f"{a.usage_date} " in text and f"top contributor {top.kind} {top.name or top.id}" in text
        assert f"{money(a.actual_cost)} vs {money(a.expected_cost)} expected USD" in text


def test_summary_says_when_the_tables_are_not_built_or_empty(spark, warehouse, tmp_path):
    copy = tmp_path / "warehouse"
    shutil.copytree(warehouse.warehouse, copy)
    for spec in (COST_FORECAST, BUDGET_STATUS):
        shutil.rmtree(copy / spec.layer / spec.name)
    empty = copy / COST_ANOMALIES.layer / COST_ANOMALIES.name
    shutil.rmtree(empty)
    store = open_store(spark, load_config(warehouse.source_file, [f"warehouse={copy}"]))
    store.write(COST_ANOMALIES, spark.createDataFrame([], COST_ANOMALIES.schema()), Replace.all(), {})
    text = cost_summary(DeltaRsReader(str(copy)))
    assert "not built yet (gold.cost_forecast does not exist)" in text
    assert "not built yet (gold.budget_status does not exist)" in text
    anomalies = text.split("Anomalies (latest 10)\n", 1)[1].splitlines()
    assert anomalies[0] == "  none"


def test_the_notebook_explains_the_largest_anomaly_down_to_its_records(spark, warehouse, monkeypatch):
    monkeypatch.setenv("BILLING_LAKEHOUSE_CONFIG", warehouse.source_file)
    source = (REPO / "notebooks" / "forecast_and_anomalies.py").read_text(encoding="utf-8")
    namespace: dict = {"__name__": "__main__"}
    for number, cell in enumerate(source.split("\n# COMMAND ----------\n")):
        exec(compile(cell, f"forecast_and_anomalies cell {number}", "exec"), namespace)

    store = _store(spark, warehouse)
    anomalies = store.read(COST_ANOMALIES).where("scope_type = 'account'")
    largest = anomalies.orderBy(F.abs("deviation").desc(), F.col("usage_date").desc()).collect()[0]
    assert namespace["anomaly"].anomaly_id == largest.anomaly_id
    top = largest.top_contributors[0]
    assert (top.kind, top.id) == ("job", RUNAWAY[0])  # the injected runaway job
    records = store.read(COST).where(f"usage_date = '{largest.usage_date}' AND usage_metadata.job_id = '{top.id}'")
    assert namespace["behind_cost"] == top.actual_cost == records.agg(F.sum("contracted_cost")).collect()[0][0]
    assert namespace["scope_cost"] == largest.actual_cost
    month_end = store.read(COST_FORECAST).where("scope_type = 'account' AND cost_basis = 'contracted'").collect()[0]
    assert namespace["forecast_month_end"][("account", "account", "USD", "contracted")] == month_end.month_end_forecast


def test_many_anomalies_show_the_newest_twenty_and_fold_every_one_below():
    anomalies = [
        Anomaly(
            anomaly_id=f"a{n}",
            usage_date=date(2024, 3, 1) + timedelta(days=n),
            scope_type="tag",
            scope_id="team=ml",
            scope_name="",
            currency="USD",
            cost_basis="contracted",
            actual_cost=Decimal(90 + n),
            expected_cost=Decimal(10),
            deviation=Decimal(80 + n),
            deviation_percent=Decimal(800),
            direction="spike",
            contributors=[],
        )
        for n in range(25)
    ]
    html = anomaly_section(Outlook(anomalies_built=True, anomalies=anomalies[::-1]), "USD")
    assert "No account-wide anomaly in USD" in html
    assert len(_cells(html, "anomalies-latest")) == 20 and len(_cells(html, "anomalies")) == 25
    assert _cells(html, "anomalies-latest")[0][0] == "2024-03-25"
