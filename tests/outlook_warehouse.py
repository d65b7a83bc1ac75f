"""A warehouse for the report's, summary's and notebook's forecast, budget and anomaly parts: seven weeks of usage in
two named workspaces (tagged, partly tagged and untagged records) with a runaway job on 2024-03-12.
The config has two budgets (the account's on contracted cost, the ml platform workspace's on effective cost), so
one run writes gold.cost_forecast, gold.budget_status and gold.cost_anomalies from this usage.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.config import PipelineConfig, load_config
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
