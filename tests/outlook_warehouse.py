"""A warehouse for the report's, summary's and notebook's forecast, budget and anomaly parts: seven weeks of usage in
two named workspaces (tagged, partly tagged and untagged records) with a runaway job on 2024-03-12.

Where the run does not write gold.cost_forecast, gold.budget_status and gold.cost_anomalies (a warehouse of a
release before them), `write_outlook_rows` writes rows of those contracts derived from gold.cost_daily, so the
pages are checked against whatever those tables hold.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig, load_config
from pipelines.storage import Replace, TableStore
from pipelines.tables import BUDGET_STATUS, BUDGETS, COST_ANOMALIES, COST_BY_WORKLOAD, COST_DAILY, COST_FORECAST
from tests.conftest import SERVERLESS_JOBS, system_record, write_config, write_prices, write_system_export

ANALYTICS, ML = "1111111111111111", "2222222222222222"
NOTEBOOKS = "PREMIUM_INTERACTIVE_SERVERLESS_COMPUTE_US_EAST_N_VIRGINIA"
STORAGE = "PREMIUM_DEFAULT_STORAGE_US_EAST_N_VIRGINIA"
FIRST, LAST = date(2024, 2, 1), date(2024, 3, 20)
SPIKE = date(2024, 3, 12)
RUNAWAY = ("777", "runaway backfill")
CENTS = Decimal("0.01")


BUDGETS_YAML = f"""budgets:
  - name: account monthly
    amount: "350"
    cost_basis: contracted
    alert_thresholds: [50, 80, 100]
  - name: ml platform
    amount: "150"
    cost_basis: effective
    scope: {{workspaces: ["{ML}"]}}
    alert_thresholds: [80, 100]
"""


def records() -> list[tuple]:
    rows = []
    day = FIRST
    while day <= LAST:
        iso, weekend = day.isoformat(), day.weekday() >= 5
        etl = "6" if weekend else "10"
        rows.append(system_record(f"etl-{iso}", etl, day=iso, workspace_id=ANALYTICS, tags={"team": "data"}))
        rows.append(
            system_record(
                f"nb-{iso}",
                "4",
                day=iso,
                workspace_id=ML,
                sku=NOTEBOOKS,
                job=None,
                notebook=("n1", "/Users/ana/explore"),
                product="INTERACTIVE",
                tags={"team": "ml", "env": "prod"},
            )
        )
        rows.append(
            system_record(
                f"st-{iso}", "5", day=iso, workspace_id=ML, sku=STORAGE, unit="DSU", job=None, run_as=None, tags={}
            )
        )
        day += timedelta(days=1)
    spike = SPIKE.isoformat()
    rows.append(
        system_record("runaway", "400", day=spike, workspace_id=ANALYTICS, job=RUNAWAY, run_as="bob@x", tags={})
    )
    return rows


def build_config(spark: SparkSession, tmp: Path) -> PipelineConfig:
    write_system_export(spark, tmp / "system", "export_date=2024-03-21", records())
    write_prices(
        tmp / "prices" / "prices.csv",
        [
            (SERVERLESS_JOBS, "2023-01-01T00:00:00Z", "", "0.35"),
            (NOTEBOOKS, "2023-01-01T00:00:00Z", "", "0.75"),
            (STORAGE, "2023-01-01T00:00:00Z", "", "0.023", "DSU"),
        ],
    )
    path = write_config(
        tmp,
        None,
        tmp / "prices",
        extra=f'workspace_names:\n  "{ANALYTICS}": analytics\n  "{ML}": ml platform\n{BUDGETS_YAML}',
        sources=f"  system_usage:\n    path: {tmp / 'system'}\n    format: parquet\n",
    )
    return load_config(path)


def write_outlook_rows(spark: SparkSession, store: TableStore) -> None:
    """Forecast, budget and anomaly rows of their contracts, for each of those tables the run did not write."""
    daily = {
        r.usage_date: r.cost
        for r in store.read(COST_DAILY).groupBy("usage_date").agg(F.sum("contracted_cost").alias("cost")).collect()
    }
    month, as_of = date(2024, 3, 1), max(daily)
    recent = [daily[as_of - timedelta(days=n)] for n in range(1, 8)]
    expected = (sum(recent, Decimal(0)) / 7).quantize(CENTS)
    forecast, cumulative, low, high = [], Decimal(0), Decimal(0), Decimal(0)
    days = [month + timedelta(days=n) for n in range(31)]
    for day in days:
        actual = daily.get(day) if day <= as_of else None
        if day <= as_of:
            cumulative += actual or Decimal(0)
            low = high = cumulative
            day_expected = lower = upper = None
        else:
            day_expected, lower, upper = expected, (expected * Decimal("0.8")), (expected * Decimal("1.2"))
            cumulative, low, high = cumulative + expected, low + lower, high + upper
        forecast.append(
            [
                month,
                "account",
                "account",
                "account",
                "USD",
                "contracted",
                day,
                actual,
                day_expected,
                lower,
                upper,
                cumulative,
                low,
                high,
                as_of,
            ]
        )
    end = forecast[-1]
    forecast = [[*row, end[11], end[12], end[13], "test rows: last 7 days' mean", 49] for row in forecast]
    spend = next(row[11] for row in forecast if row[6] == as_of)
    budgets = [
        ("account monthly", "config", Decimal(350), "USD", "contracted", None, None, None, None, [50, 80, 100]),
        ("ml platform", "config", Decimal(150), "USD", "effective", [ML], None, None, None, [80, 100]),
    ]
    status = [
        (
            month,
            "account monthly",
            "config",
            "USD",
            "contracted",
            Decimal(3000),
            as_of,
            spend,
            (spend / 30).quantize(CENTS),
            end[11],
            end[12],
            end[13],
            (end[11] / Decimal("3.5")).quantize(CENTS),
            None,
            [50, 80, 100],
            [50],
            "ok",
        ),
        (
            month,
            "ml platform",
            "config",
            "USD",
            "effective",
            Decimal(150),
            as_of,
            Decimal("410.5"),
            Decimal("82.1"),
            Decimal("640"),
            Decimal("600"),
            Decimal("680"),
            Decimal("128"),
            date(2024, 3, 25),
            [80, 100],
            [80],
            "over",
        ),
    ]
    spike_cost = daily[SPIKE]
    runaway = (
        store.read(COST_BY_WORKLOAD)
        .where(f"usage_date = '{SPIKE}' AND workload_id = '{RUNAWAY[0]}'")
        .agg(F.sum("contracted_cost"))
        .collect()[0][0]
    )
    contributor = ("job", RUNAWAY[0], RUNAWAY[1], runaway, Decimal(0), runaway, Decimal("0.95"))
    anomalies = [
        (
            "a-account",
            SPIKE,
            "account",
            "account",
            "account",
            "USD",
            "contracted",
            spike_cost,
            expected,
            spike_cost - expected,
            ((spike_cost - expected) / expected * 100).quantize(CENTS),
            "up",
            [contributor],
        ),
        (
            "a-ws",
            SPIKE,
            "workspace",
            ANALYTICS,
            "analytics",
            "USD",
            "contracted",
            Decimal("143.5"),
            Decimal("3.5"),
            Decimal(140),
            Decimal(4000),
            "up",
            [contributor],
        ),
    ]
    for spec, rows in (
        (COST_FORECAST, [tuple(r) for r in forecast]),
        (BUDGETS, budgets),
        (BUDGET_STATUS, status),
        (COST_ANOMALIES, anomalies),
    ):
        if store.version(spec) is None:
            store.write(spec, spark.createDataFrame(rows, spec.schema()), Replace.all(), {"written_by": "test"})
