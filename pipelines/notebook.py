"""What the exploration notebooks share: their parameters, the session, the pipeline's tables by name, and display
helpers (money to the cent, workspace names).

A notebook's parameters are the config file, the catalog and a schema per layer. On Databricks they are widgets,
which a job's notebook task fills (databricks.yml passes the job's own); a blank widget keeps the config file's
value, and `conf/pipeline.databricks.yml` holds the bundle's defaults. Locally, where there is no `dbutils`, the
same parameters come from environment variables (BILLING_LAKEHOUSE_CONFIG, BILLING_LAKEHOUSE_CATALOG,
BILLING_LAKEHOUSE_GOLD_SCHEMA, ...), else the demo config `conf/pipeline.yml`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from pipelines.config import PipelineConfig, load_config
from pipelines.spark import build_spark
from pipelines.storage import TableStore, open_store
from pipelines.tables import ALL_TABLES

REPOSITORY = Path(__file__).resolve().parent.parent
CONFIG_PARAMETER = "config"
# notebook parameter -> the config key it overrides
PARAMETERS = {
    "catalog": "catalog",
    "bronze_schema": "schemas.bronze",
    "silver_schema": "schemas.silver",
    "gold_schema": "schemas.gold",
}
ENVIRONMENT_PREFIX = "BILLING_LAKEHOUSE_"
_MONEY = re.compile(r"(^|_)(cost|price)$")


def notebook_parameters(dbutils: Any | None = None) -> dict[str, str]:
    """The notebook's parameters that are set: widgets where `dbutils` exists, else environment variables."""
    names = [CONFIG_PARAMETER, *PARAMETERS]
    if dbutils is None:
        values = {name: os.environ.get(ENVIRONMENT_PREFIX + name.upper(), "") for name in names}
    else:
        for name in names:
            dbutils.widgets.text(name, "", name.replace("_", " "))  # blank: the config file's value
        values = {name: dbutils.widgets.get(name) for name in names}
    return {name: value.strip() for name, value in values.items() if value and value.strip()}


def notebook_config(parameters: Mapping[str, str], on_databricks: bool = False) -> PipelineConfig:
    """The config the parameters name (else the default one) with their catalog and schemas laid over it."""
    overrides = [f"{key}={parameters[name]}" for name, key in PARAMETERS.items() if name in parameters]
    return load_config(parameters.get(CONFIG_PARAMETER) or _default_config(on_databricks), overrides)


def _default_config(on_databricks: bool) -> Path:
    """On Databricks the bundle's config, synced beside `notebooks/`; locally the demo's, here or in the repository."""
    name = "pipeline.databricks.yml" if on_databricks else "pipeline.yml"
    candidates = [Path("conf") / name, Path.cwd().parent / "conf" / name, REPOSITORY / "conf" / name]
    return next((path for path in candidates if path.is_file()), candidates[-1])


@dataclass(frozen=True)
class Notebook:
    """The session, the config and the store a notebook reads from."""

    spark: SparkSession
    config: PipelineConfig
    store: TableStore

    def table(self, key: str) -> DataFrame:
        """A pipeline table by `layer.name`, wherever the config puts it (a path or a catalog name)."""
        return self.store.read(next(table for table in ALL_TABLES if table.key == key))

    def readable(self, data: DataFrame) -> DataFrame:
        """`data` for display: money to the cent and, where configured, each workspace's name beside its id."""
        return data.transform(money_to_cents).transform(lambda d: with_workspace_names(d, self.config.workspace_names))


def open_notebook(dbutils: Any | None = None, config: PipelineConfig | None = None) -> Notebook:
    """The session (Databricks' own, or a local one), the config from the notebook's parameters, and its store."""
    config = config or notebook_config(notebook_parameters(dbutils), on_databricks=dbutils is not None)
    spark = build_spark("billing-lakehouse-notebook", config.spark_conf, s3=config.uses_s3)
    return Notebook(spark, config, open_store(spark, config))


def money_to_cents(data: DataFrame) -> DataFrame:
    """Decimal cost and price columns rounded half up to two decimals, for display only (the tables keep all)."""
    return data.select(
        *[
            _cents(field.name) if isinstance(field.dataType, DecimalType) and _MONEY.search(field.name) else field.name
            for field in data.schema.fields
        ]
    )


def _cents(name: str) -> Column:
    return F.col(name).cast("decimal(38,2)").alias(name)


def with_workspace_names(data: DataFrame, names: Mapping[str, str]) -> DataFrame:
    """A `workspace_name` column after `workspace_id` when names are configured (NULL for a workspace without one)."""
    if not names or "workspace_id" not in data.columns:
        return data
    lookup = F.create_map(*[F.lit(value) for pair in sorted(names.items()) for value in pair])
    columns: list[str | Column] = []
    for name in data.columns:
        columns.append(name)
        if name == "workspace_id":
            columns.append(lookup[F.col("workspace_id")].alias("workspace_name"))
    return data.select(*columns)


def show(data: DataFrame, rows: int = 20) -> None:
    """Local stand-in for Databricks' `display`."""
    data.show(rows, truncate=False)
