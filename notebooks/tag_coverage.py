# Databricks notebook source
# MAGIC %md
# MAGIC # Tag coverage
# MAGIC Which share of the cost carries no custom tag (and so cannot be charged back by tag), per day and SKU,
# MAGIC and which tag keys cover the most cost. Read from `gold.cost`, one row per usage record.

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
cost = table("gold.cost").where("is_priced")
untagged = F.coalesce(F.size("custom_tags"), F.lit(0)) <= 0

# COMMAND ----------

coverage = cost.groupBy("currency_code").agg(
    F.sum("effective_cost").alias("effective_cost"),
    F.coalesce(F.sum(F.when(untagged, F.col("effective_cost"))), F.lit(0)).alias("untagged_cost"),
)
coverage = coverage.withColumn("untagged_share", F.round(F.col("untagged_cost") / F.col("effective_cost"), 4))
display(readable(coverage))
untagged_share = {r.currency_code: r.untagged_share for r in coverage.collect()}

# COMMAND ----------

# MAGIC %md
# MAGIC ## Untagged cost per SKU

# COMMAND ----------

display(
    readable(
        cost.where(untagged)
        .groupBy("sku_name", "currency_code")
        .agg(F.sum("effective_cost").alias("untagged_cost"))
        .orderBy(F.col("untagged_cost").desc())
    )
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Cost covered by each tag key

# COMMAND ----------

display(
    readable(
        table("gold.cost_by_tag")
        .groupBy("tag_key", "currency_code")
        .agg(F.sum("effective_cost").alias("tagged_cost"), F.countDistinct("tag_value").alias("values"))
        .orderBy(F.col("tagged_cost").desc_nulls_last())
    )
)
