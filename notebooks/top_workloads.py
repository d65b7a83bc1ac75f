# Databricks notebook source
# MAGIC %md
# MAGIC # Top workloads
# MAGIC The most expensive jobs, notebooks, SQL warehouses (and pipelines, endpoints, apps, clusters) from
# MAGIC `gold.cost_by_workload`. Each record belongs to its most specific workload, so the rows add up.

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

from pyspark.sql import functions as F

from pipelines.notebook import open_notebook, show

notebook = open_notebook(dbutils=globals().get("dbutils"))
spark, table, readable = notebook.spark, notebook.table, notebook.readable
display = globals().get("display", show)
workloads = table("gold.cost_by_workload")
TOP = 10

# COMMAND ----------

ranked = (
    workloads.where(F.col("workload_type").isNotNull())
    .groupBy("workload_type", "workload_id", "workload_name", "currency_code")
    .agg(F.sum("effective_cost").alias("effective_cost"), F.sum("usage_quantity").alias("usage_quantity"))
)
for kind in ("job", "notebook", "warehouse"):
    print(f"top {TOP} {kind}s")
    top = ranked.where(F.col("workload_type") == kind).orderBy(F.col("effective_cost").desc_nulls_last()).limit(TOP)
    display(readable(top))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Cost by workload type

# COMMAND ----------

by_type = workloads.groupBy("workload_type", "currency_code").agg(F.sum("effective_cost").alias("effective_cost"))
display(readable(by_type.orderBy(F.col("effective_cost").desc_nulls_last())))
cost_by_type = {(r.workload_type, r.currency_code): r.effective_cost for r in by_type.collect()}
