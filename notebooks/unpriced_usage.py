# Databricks notebook source
# MAGIC %md
# MAGIC # Unpriced usage
# MAGIC Usage with no price window (an unknown SKU, a workspace missing from the configuration, a gap or an
# MAGIC overlap in the price windows, a Dremio hour no rate card holds). Its cost is NULL, never guessed:
# MAGIC fix the prices or the configuration and the next run prices it.

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
unpriced = table("gold.unpriced_usage")

# COMMAND ----------

by_reason = (
    unpriced.groupBy("unpriced_reason", "source", "sku_name", "usage_unit")
    .agg(F.count("*").alias("records"), F.sum("usage_quantity").alias("usage_quantity"))
    .orderBy(F.col("records").desc())
)
display(by_reason)
unpriced_records = unpriced.count()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Price windows of the unpriced SKUs
# MAGIC `overlaps_other_window` marks windows that are never used because they share time with another.

# COMMAND ----------

skus = [r.sku_name for r in unpriced.select("sku_name").distinct().collect()]
display(readable(table("silver.prices").where(F.col("sku_name").isin(skus)).orderBy("sku_name", "price_start_time")))
