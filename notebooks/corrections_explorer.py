# Databricks notebook source
# MAGIC %md
# MAGIC # Corrections explorer
# MAGIC Databricks corrects a `system.billing.usage` record by adding a RETRACTION (the record with its
# MAGIC quantity negated) and usually a RESTATEMENT (the corrected record). This shows, from bronze, what each
# MAGIC correction changed: quantity, SKU or tags, and the day it applies to.

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
records = table("bronze.system_usage")

# COMMAND ----------

corrections = records.where(F.col("record_type").isin("RETRACTION", "RESTATEMENT"))
per_type = corrections.groupBy("record_type").agg(
    F.count("*").alias("records"), F.sum("usage_quantity").alias("usage_quantity")
)
display(per_type)
correction_counts = {r.record_type: r.records for r in per_type.collect()}

# COMMAND ----------

# MAGIC %md
# MAGIC ## What each retraction took back and what its restatement put instead
# MAGIC A retraction matches its original on every attribute but the quantity's sign; a restatement of the
# MAGIC same workspace, day and workload that arrived the same day is shown beside it.

# COMMAND ----------

keys = ["workspace_id", "usage_date", "usage_start_time", "usage_metadata"]
retractions = corrections.where("record_type = 'RETRACTION'").select(
    *keys,
    F.col("ingestion_date"),
    F.col("sku_name").alias("retracted_sku"),
    (-F.col("usage_quantity")).alias("retracted_quantity"),
    F.col("custom_tags").alias("retracted_tags"),
)
restatements = corrections.where("record_type = 'RESTATEMENT'").select(
    *keys,
    F.col("ingestion_date"),
    F.col("sku_name").alias("restated_sku"),
    F.col("usage_quantity").alias("restated_quantity"),
    F.col("custom_tags").alias("restated_tags"),
)
changes = retractions.join(restatements, [*keys, "ingestion_date"], "full_outer").withColumn(
    "change",
    F.when(F.col("restated_quantity").isNull(), "removed")
    .when(F.col("retracted_sku") != F.col("restated_sku"), "sku changed")
    .when(F.col("retracted_tags") != F.col("restated_tags"), "tags changed")
    .when(F.col("retracted_quantity") != F.col("restated_quantity"), "quantity changed")
    .otherwise("restated unchanged"),
)
display(changes.orderBy("usage_date", "ingestion_date"))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Days whose usage was corrected, and how late

# COMMAND ----------

display(
    corrections.groupBy("usage_date")
    .agg(
        F.count("*").alias("correction_records"),
        F.max(F.datediff("ingestion_date", "usage_date")).alias("days_late"),
    )
    .orderBy("usage_date")
)
