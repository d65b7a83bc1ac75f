# Databricks notebook source
# MAGIC %md
# MAGIC # Unpriced usage
# MAGIC Usage with no price window (an unknown SKU, a workspace missing from the configuration, a gap or an
# MAGIC overlap in the price windows, a Dremio hour no rate card holds). Its cost is NULL, never guessed:
# MAGIC fix the prices or the configuration and the next run prices it.

# COMMAND ----------

from pyspark.sql import functions as F

from pipelines.notebook import open_tables, show

spark, table = open_tables()
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
display(table("silver.prices").where(F.col("sku_name").isin(skus)).orderBy("sku_name", "price_start_time"))
