# Databricks notebook source
# MAGIC %md
# MAGIC # Cost overview
# MAGIC Cost per day and per SKU from `gold.cost_daily`, month to date against the previous month, and the
# MAGIC totals per unit and currency (never added across units or currencies). Locally it reads the demo
# MAGIC warehouse (`make demo`); set `BILLING_LAKEHOUSE_CONFIG` to read another one.

# COMMAND ----------

# MAGIC %md
# MAGIC **Parameters** (widgets; the bundle's job sets them): `config`, `catalog`, `bronze_schema`, `silver_schema`,
# MAGIC `gold_schema`. A blank one keeps the config file's value (`conf/pipeline.databricks.yml` on Databricks: the
# MAGIC bundle's defaults). Locally they are the environment variables `BILLING_LAKEHOUSE_CONFIG`,
# MAGIC `BILLING_LAKEHOUSE_CATALOG`, `BILLING_LAKEHOUSE_GOLD_SCHEMA`, ... and the config defaults to the demo's.
# MAGIC
# MAGIC **Setup.** Deployed by the bundle, the package is imported from the repository copy beside this folder (next
# MAGIC cell). Anywhere else on Databricks, install the bundle's wheel first, in a cell of its own:
# MAGIC `%pip install <bundle root>/artifacts/.internal/billing_lakehouse-0.1.0-py3-none-any.whl`, where the bundle
# MAGIC root is e.g. `/Workspace/Users/<you>/.bundle/billing_lakehouse/dev`.

# COMMAND ----------

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("pipelines") is None:  # on Databricks: the bundle's copy of the repository
    sys.path.append(str(Path.cwd().parent))

# COMMAND ----------

from datetime import timedelta

from pyspark.sql import functions as F

from pipelines.notebook import open_notebook, show

notebook = open_notebook(dbutils=globals().get("dbutils"))
spark, table, readable = notebook.spark, notebook.table, notebook.readable
display = globals().get("display", show)
daily = table("gold.cost_daily")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Totals per unit and currency

# COMMAND ----------

totals = (
    daily.groupBy("usage_unit", "currency_code")
    .agg(F.sum("usage_quantity").alias("quantity"), F.sum("effective_cost").alias("effective_cost"))
    .orderBy("usage_unit", "currency_code")
)
display(readable(totals))
total_effective_cost = {(r.usage_unit, r.currency_code): r.effective_cost for r in totals.collect()}

# COMMAND ----------

# MAGIC %md
# MAGIC ## Cost per day and SKU

# COMMAND ----------

per_day = (
    daily.groupBy("usage_date", "sku_name", "currency_code")
    .agg(F.sum("effective_cost").alias("effective_cost"))
    .orderBy(F.col("usage_date").desc(), F.col("effective_cost").desc())
)
display(readable(per_day))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Month to date against the same days of the previous month

# COMMAND ----------

latest = daily.agg(F.max("usage_date")).first()[0]
if latest is not None:
    month_start = latest.replace(day=1)
    previous_start = (month_start - timedelta(days=1)).replace(day=1)
    same_days = F.dayofmonth("usage_date") <= latest.day
    this_month = F.col("usage_date").between(month_start, latest)
    last_month = (F.col("usage_date") >= previous_start) & (F.col("usage_date") < month_start) & same_days
    display(
        readable(
            daily.where(this_month | last_month)
            .withColumn("month", F.date_format("usage_date", "yyyy-MM"))
            .groupBy("month", "currency_code")
            .agg(F.sum("effective_cost").alias("effective_cost"))
            .orderBy("month")
        )
    )

# COMMAND ----------

# MAGIC %md
# MAGIC ## Cost per workspace
# MAGIC With `workspace_names` in the config, each workspace's name is shown beside its id.

# COMMAND ----------

per_workspace = (
    daily.groupBy("workspace_id", "usage_unit", "currency_code")
    .agg(F.sum("list_cost").alias("list_cost"), F.sum("effective_cost").alias("effective_cost"))
    .orderBy(F.col("effective_cost").desc_nulls_last())
)
display(readable(per_workspace))
workspace_effective_cost = {
    (r.workspace_id, r.usage_unit, r.currency_code): r.effective_cost for r in per_workspace.collect()
}
