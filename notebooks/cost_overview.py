# Databricks notebook source
# MAGIC %md
# MAGIC # Cost overview
# MAGIC Cost per day and per SKU from `gold.cost_daily`, month to date against the previous month, and the
# MAGIC totals per unit and currency (never added across units or currencies). Locally it reads the demo
# MAGIC warehouse (`make demo`); set `BILLING_LAKEHOUSE_CONFIG` to read another one.

# COMMAND ----------

from datetime import timedelta

from pyspark.sql import functions as F

from pipelines.notebook import open_tables, show

spark, table = open_tables()
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
display(totals)
total_effective_cost = {(r.usage_unit, r.currency_code): r.effective_cost for r in totals.collect()}

# COMMAND ----------

# MAGIC %md
# MAGIC ## Cost per day and SKU

# COMMAND ----------

per_day = (
    daily.groupBy("usage_date", "sku_name", "currency_code")
    .agg(F.round(F.sum("effective_cost"), 2).alias("effective_cost"))
    .orderBy(F.col("usage_date").desc(), F.col("effective_cost").desc())
)
display(per_day)

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
        daily.where(this_month | last_month)
        .withColumn("month", F.date_format("usage_date", "yyyy-MM"))
        .groupBy("month", "currency_code")
        .agg(F.round(F.sum("effective_cost"), 2).alias("effective_cost"))
        .orderBy("month")
    )
