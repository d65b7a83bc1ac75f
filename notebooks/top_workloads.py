# Databricks notebook source
# MAGIC %md
# MAGIC # Top workloads
# MAGIC The most expensive jobs, notebooks, SQL warehouses (and pipelines, endpoints, apps, clusters) from
# MAGIC `gold.cost_by_workload`. Each record belongs to its most specific workload, so the rows add up.

# COMMAND ----------

from pyspark.sql import functions as F

from pipelines.notebook import open_tables, show

spark, table = open_tables()
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
    display(ranked.where(F.col("workload_type") == kind).orderBy(F.col("effective_cost").desc_nulls_last()).limit(TOP))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Cost by workload type

# COMMAND ----------

by_type = workloads.groupBy("workload_type", "currency_code").agg(F.sum("effective_cost").alias("effective_cost"))
display(by_type.orderBy(F.col("effective_cost").desc_nulls_last()))
cost_by_type = {(r.workload_type, r.currency_code): r.effective_cost for r in by_type.collect()}
