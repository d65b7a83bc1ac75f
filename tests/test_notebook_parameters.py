"""Notebooks take their catalog and schemas from their parameters: widgets on Databricks (a job's notebook task fills
them), environment variables locally. Run cell by cell against catalog tables built by tests/test_catalog_tables.py's
fixtures, with a config whose own schemas hold nothing, so only the parameters can lead to the tables.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig
from pipelines.notebook import PARAMETERS, money_to_cents, notebook_parameters, with_workspace_names
from pipelines.storage import open_store
from pipelines.tables import COST, COST_DAILY
from tests.conftest import REPO
from tests.test_catalog_tables import catalog_run, delta_spark, schemas  # noqa: F401  (module fixtures)

NOTEBOOK = REPO / "notebooks" / "cost_overview.py"


class Widgets:
    """What a notebook task's `base_parameters` leave in `dbutils.widgets`: `text` declares, `get` reads."""

    def __init__(self, job_parameters: dict[str, str]) -> None:
        self.values = dict(job_parameters)
        self.declared: dict[str, str] = {}

    def text(self, name: str, default: str, label: str | None = None) -> None:
        self.declared[name] = default
        self.values.setdefault(name, default)

    def get(self, name: str) -> str:
        return self.values[name]


class DbUtils:
    def __init__(self, job_parameters: dict[str, str]) -> None:
        self.widgets = Widgets(job_parameters)


def run_notebook(path: Path, namespace: dict[str, Any]) -> dict[str, Any]:
    """Each cell in order, as Databricks runs a source-format notebook."""
    namespace = {"__name__": "__main__", **namespace}
    source = path.read_text(encoding="utf-8")
    for number, cell in enumerate(source.split("\n# COMMAND ----------\n")):
        exec(compile(cell, f"{path.name} cell {number}", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def decoy_config(catalog_run: PipelineConfig, delta_spark: SparkSession) -> Path:  # noqa: F811
    """The catalog run's config with schemas that hold no tables, and a name for every workspace in gold."""
    store = open_store(delta_spark, catalog_run)
    workspaces = sorted(r.workspace_id for r in store.read(COST_DAILY).select("workspace_id").distinct().collect())
    names = ", ".join(f'"{workspace}": workspace-{n}' for n, workspace in enumerate(workspaces))
    source = Path(catalog_run.source_file)
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if not line.startswith("schemas:")]
    lines += [
        "schemas: {bronze: empty_bronze, silver: empty_silver, gold: empty_gold}",
        f"workspace_names: {{{names}}}",
    ]
    decoy = source.with_name("notebook.yml")  # beside the original: its relative paths (skus.yml) still resolve
    decoy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return decoy


def gold_totals(spark: SparkSession, config: PipelineConfig) -> dict[tuple[str, str], Decimal]:
    cost = open_store(spark, config).read(COST)
    totals = cost.groupBy("usage_unit", "currency_code").agg(F.sum("effective_cost").alias("total")).collect()
    return {(r.usage_unit, r.currency_code): r.total for r in totals}


def test_locally_the_notebook_reads_the_schemas_its_environment_parameters_name(
    delta_spark,  # noqa: F811
    catalog_run,  # noqa: F811
    schemas,  # noqa: F811
    decoy_config,
    monkeypatch,
):
    monkeypatch.setenv("BILLING_LAKEHOUSE_CONFIG", str(decoy_config))
    monkeypatch.setenv("BILLING_LAKEHOUSE_CATALOG", "spark_catalog")
    for layer, schema in schemas.items():
        monkeypatch.setenv(f"BILLING_LAKEHOUSE_{layer.upper()}_SCHEMA", schema)
    namespace = run_notebook(NOTEBOOK, {})
    assert namespace["notebook"].config.schemas == schemas
    assert namespace["total_effective_cost"] == gold_totals(delta_spark, catalog_run)
    shown = namespace["readable"](namespace["per_workspace"])
    assert shown.columns[:2] == ["workspace_id", "workspace_name"]
    assert all(r.workspace_name.startswith("workspace-") for r in shown.collect())
    assert dict(shown.dtypes)["effective_cost"] == "decimal(38,2)"


def test_on_databricks_the_notebook_reads_the_schemas_its_job_parameters_name(
    delta_spark,  # noqa: F811
    catalog_run,  # noqa: F811
    schemas,  # noqa: F811
    decoy_config,
):
    job_parameters = {"config": str(decoy_config), "catalog": "spark_catalog"}
    job_parameters |= {f"{layer}_schema": schema for layer, schema in schemas.items()}
    dbutils = DbUtils(job_parameters)
    namespace = run_notebook(NOTEBOOK, {"dbutils": dbutils})
    assert dbutils.widgets.declared == {name: "" for name in ["config", *PARAMETERS]}  # blank: the file's value
    assert namespace["notebook"].config.schemas == schemas
    assert namespace["total_effective_cost"] == gold_totals(delta_spark, catalog_run)


def test_blank_parameters_keep_the_config_files_values(monkeypatch):
    for name in ["config", *PARAMETERS]:
        monkeypatch.delenv(f"BILLING_LAKEHOUSE_{name.upper()}", raising=False)
    assert notebook_parameters(None) == {}
    assert notebook_parameters(DbUtils({"catalog": " ", "gold_schema": "finance_gold"})) == {
        "gold_schema": "finance_gold"
    }


def test_money_is_shown_to_the_cent_and_quantities_keep_every_decimal(spark):
    data = spark.createDataFrame(
        [("1", Decimal("1.005"), Decimal("0.125"), Decimal("2.123456789"))],
        "workspace_id string, effective_cost decimal(38,18), list_price decimal(38,18), usage_quantity decimal(38,18)",
    )
    expected = spark.createDataFrame(
        [("1", Decimal("1.01"), Decimal("0.13"), Decimal("2.123456789"))],
        "workspace_id string, effective_cost decimal(38,2), list_price decimal(38,2), usage_quantity decimal(38,18)",
    )
    assert_df_equality(money_to_cents(data), expected, ignore_row_order=True, ignore_nullable=True)


def test_workspace_names_appear_beside_the_ids_only_where_configured(spark):
    data = spark.createDataFrame([("1", 1), ("2", 2)], "workspace_id string, records int")
    expected = spark.createDataFrame(
        [("1", "production", 1), ("2", None, 2)], "workspace_id string, workspace_name string, records int"
    )
    named = with_workspace_names(data, {"1": "production"})
    assert_df_equality(named, expected, ignore_row_order=True, ignore_nullable=True)
    assert with_workspace_names(data, {}).columns == ["workspace_id", "records"]
