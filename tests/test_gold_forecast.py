"""gold.cost_forecast and gold.budget_status from gold aggregates and silver.budgets, on Spark and delta-rs tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from pipelines.config import PipelineConfig, load_config
from pipelines.forecast.model import forecast_month
from pipelines.gold.refresh_forecast import refresh_budget_status, refresh_forecast
from pipelines.storage import Replace, TableStore, open_store
from pipelines.tables import BUDGET_STATUS, BUDGETS, COST_BY_TAG, COST_BY_WORKLOAD, COST_FORECAST, TableSpec
from tests.conftest import write_config

W1, W2 = "1111111111111111", "2222222222222222"
JOBS, SQL = "PREMIUM_JOBS_COMPUTE", "PREMIUM_SQL_PRO_COMPUTE"
START, AS_OF = date(2024, 4, 1), date(2024, 5, 15)
DAYS = [START + timedelta(n) for n in range((AS_OF - START).days + 1)]
MAY = date(2024, 5, 1)
COLUMNS = "usage_date date, workspace_id string, sku_name string, currency_code string, billing_origin_product string"
MEASURES = "list_cost decimal(38,18), effective_cost decimal(38,18), contracted_cost decimal(38,18)"


def _d(value: str | int) -> Decimal:
    return Decimal(str(value))


def _workload_rows(w2_change: Decimal = Decimal(0)) -> list[tuple[Any, ...]]:
    """W1 jobs grow by 1 a day (USD), W2 SQL flat at 50 (USD), W1 also 10 EUR a day, and an unpriced row."""
    rows: list[tuple[Any, ...]] = []
    for n, day in enumerate(DAYS):
        jobs = _d(100 + n) + _d("0.123456789012345678")
        rows.append((day, W1, JOBS, "USD", "JOBS", jobs * 2, jobs, jobs))
        sql = _d(50) + (w2_change if day == date(2024, 5, 10) else 0)
        rows.append((day, W2, SQL, "USD", "SQL", sql, sql, sql))
        rows.append((day, W1, JOBS, "EUR", "JOBS", _d(10), _d(10), _d(10)))
        rows.append((day, W2, SQL, "USD", "SQL", None, None, None))  # unpriced: adds nothing
    return rows


def _tag_rows() -> list[tuple[Any, ...]]:
    """Records of W1 tagged team=data: 60 a day at list price, 40 contracted."""
    return [(day, W1, JOBS, "USD", "JOBS", "team", "data", _d(60), _d(50), _d(40)) for day in DAYS]


def _frame(spark: SparkSession, table: TableSpec, rows: list[tuple[Any, ...]], schema: str) -> DataFrame:
    return spark.createDataFrame([], table.schema()).unionByName(
        spark.createDataFrame(rows, schema), allowMissingColumns=True
    )


def _write_usage(
    spark: SparkSession, store: TableStore, workload: list[tuple[Any, ...]], dates: Iterable[date]
) -> None:
    dates = sorted(dates)
    changed = {"usage_dates": [d.isoformat() for d in dates]}
    replace = Replace.where([{"usage_date": d.isoformat()} for d in dates])
    data = _frame(spark, COST_BY_WORKLOAD, [r for r in workload if r[0] in dates], f"{COLUMNS}, {MEASURES}")
    store.write(COST_BY_WORKLOAD, data, replace, {"changed": changed})


def _write_budgets(spark: SparkSession, store: TableStore, budgets: list[tuple[Any, ...]]) -> None:
    store.write(
        BUDGETS, spark.createDataFrame(budgets, BUDGETS.schema()), Replace.all(), {"changed": {"everything": True}}
    )


BUDGET_ROWS = [
    # name, source, amount, currency, basis, workspaces, tag key, tag value, sku glob, thresholds
    ("data-team", "config", _d(800), "USD", "list", [], "team", "data", None, [50, 80, 100]),
    ("w1-jobs", "config", None, "USD", "contracted", [W1], None, None, "premium_jobs*", [50, 80, 100]),
    ("euro", "config", _d(1000), "EUR", "contracted", [], None, None, None, [10, 50]),
    ("nothing-matches", "config", _d(5), "USD", "effective", [W2], None, None, "*ALL_PURPOSE*", [100]),
]


def _setup(
    spark: SparkSession, tmp_path: Path, backend: str = "delta-rs"
) -> tuple[PipelineConfig, TableStore, Decimal]:
    extra = f'workspace_names:\n  "{W1}": analytics\n'
    config = load_config(write_config(tmp_path, None, None, extra=extra, storage=backend))
    store = open_store(spark, config)
    _write_usage(spark, store, _workload_rows(), DAYS)
    tags = _frame(spark, COST_BY_TAG, _tag_rows(), f"{COLUMNS}, tag_key string, tag_value string, {MEASURES}")
    store.write(COST_BY_TAG, tags, Replace.all(), {"changed": {"everything": True}})
    w1_may = sum((_d(100 + n) + _d("0.123456789012345678") for n, d in enumerate(DAYS) if d >= MAY), Decimal(0))
    budgets = [row if row[0] != "w1-jobs" else (*row[:2], w1_may * Decimal("1.5"), *row[3:]) for row in BUDGET_ROWS]
    _write_budgets(spark, store, budgets)
    return config, store, w1_may


def _forecast(store: TableStore) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    result: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in store.read(COST_FORECAST).collect():
        result.setdefault((row["scope_type"], row["scope_id"], row["currency_code"]), []).append(row.asDict())
    return {key: sorted(rows, key=lambda r: r["usage_date"]) for key, rows in result.items()}


def _history(rows: list[tuple[Any, ...]], keep: Any) -> dict[date, Decimal]:
    """An independent daily sum of contracted cost (index 7) over the rows `keep` selects."""
    series: dict[date, Decimal] = {}
    for row in rows:
        if keep(row) and row[7] is not None:
            series[row[0]] = series.get(row[0], Decimal(0)) + row[7]
    return series


def test_scopes_hold_each_days_netted_cost_and_the_models_projection(spark: SparkSession, tmp_path: Path) -> None:
    config, store, w1_may = _setup(spark, tmp_path)
    assert refresh_forecast(store, config) is not None
    forecast = _forecast(store)
    workload = _workload_rows()
    expected_scopes = {
        ("account", "account", "USD"): _history(workload, lambda r: r[3] == "USD"),
        ("account", "account", "EUR"): _history(workload, lambda r: r[3] == "EUR"),
        ("workspace", W1, "USD"): _history(workload, lambda r: r[1] == W1 and r[3] == "USD"),
        ("workspace", W1, "EUR"): _history(workload, lambda r: r[1] == W1 and r[3] == "EUR"),
        ("workspace", W2, "USD"): _history(workload, lambda r: r[1] == W2 and r[3] == "USD"),
        ("sku_group", "JOBS", "USD"): _history(workload, lambda r: r[4] == "JOBS" and r[3] == "USD"),
        ("sku_group", "JOBS", "EUR"): _history(workload, lambda r: r[4] == "JOBS" and r[3] == "EUR"),
        ("sku_group", "SQL", "USD"): _history(workload, lambda r: r[4] == "SQL" and r[3] == "USD"),
    }
    budget_keys = {("budget", name, currency) for name, _, _, currency, *_ in BUDGET_ROWS}
    assert set(forecast) == set(expected_scopes) | budget_keys
    for key, history in expected_scopes.items():
        rows = forecast[key]
        assert [r["usage_date"] for r in rows] == [MAY + timedelta(n) for n in range(31)], key
        assert {r["usage_date"]: r["actual_cost"] for r in rows if r["usage_date"] <= AS_OF} == {
            d: v for d, v in history.items() if d >= MAY
        }, key
        model = forecast_month(history, AS_OF)
        assert rows[0]["month_end_forecast"] == model.month_end, key
        assert rows[-1]["cumulative_cost"] == model.month_end
        assert rows[0]["month"] == MAY and rows[0]["as_of_date"] == AS_OF and rows[0]["cost_basis"] == "contracted"
        assert rows[14]["cumulative_cost"] == sum((v for d, v in history.items() if d >= MAY), Decimal(0))
        future = [r for r in rows if r["usage_date"] > AS_OF]
        assert all(
            r["actual_cost"] is None and r["expected_lower"] <= r["expected_cost"] <= r["expected_upper"]
            for r in future
        )
    names = {
        r["scope_id"]: r["scope_name"] for rows in forecast.values() for r in rows if r["scope_type"] == "workspace"
    }
    assert names == {W1: "analytics", W2: W2}
    # The flat EUR series projects 10 a day: 310 for May, never mixed into USD.
    assert forecast[("account", "account", "EUR")][0]["month_end_forecast"] == Decimal("310.00")
    assert forecast[("workspace", W2, "USD")][0]["month_end_forecast"] == Decimal("1550.00")
    growing = forecast[("workspace", W1, "USD")][0]
    truth = sum((_d(100 + n) + _d("0.123456789012345678") for n in range(30, 61)), Decimal(0))  # May 1 is day 30
    assert abs(growing["month_end_forecast"] - truth) < Decimal(5)
    # Budgets: the tag scope on list cost, the SKU glob in one workspace, a budget matching nothing.
    data_team = forecast[("budget", "data-team", "USD")]
    assert data_team[0]["cost_basis"] == "list" and data_team[14]["cumulative_cost"] == Decimal(60 * 15)
    assert forecast[("budget", "w1-jobs", "USD")][14]["cumulative_cost"] == w1_may
    nothing = forecast[("budget", "nothing-matches", "USD")]
    assert nothing[0]["month_end_forecast"] == 0 and nothing[0]["model"] == "no-history"


def test_budget_status_spend_thresholds_breach_and_forecast(spark: SparkSession, tmp_path: Path) -> None:
    config, store, w1_may = _setup(spark, tmp_path)
    refresh_forecast(store, config)
    assert refresh_budget_status(store, config) is not None
    status = {row["budget_name"]: row.asDict() for row in store.read(BUDGET_STATUS).collect()}
    assert set(status) == {name for name, *_ in BUDGET_ROWS}

    data_team = status["data-team"]  # 60 a day at list: 900 by May 15, over 800 since May 14 (840)
    assert data_team["spend_to_date"] == Decimal(900) and data_team["percent_used"] == Decimal("112.5")
    assert data_team["thresholds_crossed"] == [50, 80, 100] and data_team["status"] == "over budget"
    assert data_team["projected_breach_date"] == date(2024, 5, 14)
    assert data_team["month"] == MAY and data_team["as_of_date"] == AS_OF

    jobs = status["w1-jobs"]  # amount 1.5 x spend to date, half the month to go: projected over
    assert jobs["spend_to_date"] == w1_may and jobs["thresholds_crossed"] == [50]
    assert jobs["status"] == "forecast over budget"
    assert AS_OF < jobs["projected_breach_date"] < date(2024, 5, 31)
    rows = [r for r in store.read(COST_FORECAST).collect() if r["scope_id"] == "w1-jobs"]
    crossing = min(r["usage_date"] for r in rows if r["cumulative_cost"] > jobs["amount"])
    assert jobs["projected_breach_date"] == crossing
    assert jobs["forecast_lower"] <= jobs["forecast_month_end"] <= jobs["forecast_upper"]
    assert jobs["forecast_percent"] == (jobs["forecast_month_end"] * 100 / jobs["amount"]).quantize(Decimal("0.000001"))

    euro = status["euro"]  # 150 EUR of 1000: 15%, forecast 310
    assert (euro["spend_to_date"], euro["thresholds_crossed"], euro["status"]) == (Decimal(150), [10], "ok")
    assert euro["forecast_month_end"] == Decimal(310) and euro["projected_breach_date"] is None
    nothing = status["nothing-matches"]
    assert (nothing["spend_to_date"], nothing["thresholds_crossed"], nothing["status"]) == (Decimal(0), [], "ok")
    assert refresh_budget_status(store, config) is None  # nothing moved


def test_a_changed_workspace_recomputes_only_its_scopes_and_a_no_op_writes_nothing(
    spark: SparkSession, tmp_path: Path, backend: str
) -> None:
    config, store, _ = _setup(spark, tmp_path, backend)
    refresh_forecast(store, config)
    before = _forecast(store)
    version = store.version(COST_FORECAST)
    assert version is not None
    assert refresh_forecast(store, config) is None  # inputs did not move
    assert store.version(COST_FORECAST) == version

    # A restatement adds 500 to W2's May 10: W2, the account and SQL (USD) change; W1, JOBS, EUR and budgets do not.
    _write_usage(spark, store, _workload_rows(w2_change=Decimal(500)), [date(2024, 5, 10)])
    assert refresh_forecast(store, config) == version + 1
    last = store.last_commit(COST_FORECAST)
    assert last is not None
    assert sorted(last.metadata["changed"]["scopes"]) == [
        "account|account|USD|contracted",
        "sku_group|SQL|USD|contracted",
        f"workspace|{W2}|USD|contracted",
    ]
    after = _forecast(store)
    assert set(after) == set(before)
    for key in before:
        moved = key in {("account", "account", "USD"), ("sku_group", "SQL", "USD"), ("workspace", W2, "USD")}
        assert (after[key] != before[key]) == moved, key
    w2 = {r["usage_date"]: r["actual_cost"] for r in after[("workspace", W2, "USD")]}
    assert w2[date(2024, 5, 10)] == Decimal(550)

    # Unchanged values re-delivered: the inputs moved but no scope changed, so no row is rewritten.
    _write_usage(spark, store, _workload_rows(w2_change=Decimal(500)), [date(2024, 5, 10)])
    refresh_forecast(store, config)
    last = store.last_commit(COST_FORECAST)
    assert last is not None and last.metadata["changed"] == {"usage_dates": []}
    assert _forecast(store) == after
    assert refresh_forecast(store, config) is None
