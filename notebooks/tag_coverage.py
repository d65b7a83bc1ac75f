# Databricks notebook source
# MAGIC %md
# MAGIC # Tag coverage
# MAGIC Which share of the cost carries no custom tag (and so cannot be charged back by tag), per day and SKU,
# MAGIC and which tag keys cover the most cost. Read from `gold.cost`, one row per usage record.

# COMMAND ----------

from pyspark.sql import functions as F

from pipelines.notebook import open_tables, show

spark, table = open_tables()
display = globals().get("display", show)
cost = table("gold.cost").where("is_priced")
untagged = F.coalesce(F.size("custom_tags"), F.lit(0)) <= 0

# COMMAND ----------

coverage = cost.groupBy("currency_code").agg(
    F.sum("effective_cost").alias("effective_cost"),
    F.coalesce(F.sum(F.when(untagged, F.col("effective_cost"))), F.lit(0)).alias("untagged_cost"),
)
coverage = coverage.withColumn("untagged_share", F.round(F.col("untagged_cost") / F.col("effective_cost"), 4))
display(coverage)
untagged_share = {r.currency_code: r.untagged_share for r in coverage.collect()}

# COMMAND ----------

# MAGIC %md
# MAGIC ## Untagged cost per SKU

# COMMAND ----------

display(
    cost.where(untagged)
    .groupBy("sku_name", "currency_code")
    .agg(F.round(F.sum("effective_cost"), 2).alias("untagged_cost"))
    .orderBy(F.col("untagged_cost").desc())
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Cost covered by each tag key

# COMMAND ----------

display(
    table("gold.cost_by_tag")
    .groupBy("tag_key", "currency_code")
    .agg(F.round(F.sum("effective_cost"), 2).alias("tagged_cost"), F.countDistinct("tag_value").alias("values"))
    .orderBy(F.col("tagged_cost").desc_nulls_last())
)
