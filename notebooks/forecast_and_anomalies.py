# Databricks notebook source
# MAGIC %md
# MAGIC # Forecast and anomalies
# MAGIC One cost anomaly explained end to end: the day and scope it was raised for, the cost expected against the
# MAGIC cost spent, the contributors (job, warehouse, endpoint, tag value, identity) that explain the change, and the
# MAGIC `gold.cost` records behind the top contributor, joined back on its workload, tag or identity. Then where the
# MAGIC month is heading: the month-end forecast with its 80% interval and each budget's status.
# MAGIC
# MAGIC The anomaly shown is the account's (else any scope's) with the largest deviation, newest first on ties;
# MAGIC set `anomaly_id` in the cell below to explain another one. Costs are netted: RETRACTION/RESTATEMENT
# MAGIC corrections are applied before anything is compared, so a restatement never shows up as a spike here.

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

from pyspark.sql import Column
from pyspark.sql import functions as F

from pipelines.gold.aggregates import attribution
from pipelines.notebook import open_notebook, show

notebook = open_notebook(dbutils=globals().get("dbutils"))
spark, table, readable = notebook.spark, notebook.table, notebook.readable
display = globals().get("display", show)
anomaly_id = ""  # blank: the account's largest anomaly (else any scope's), newest first on ties

# COMMAND ----------

anomalies = table("gold.cost_anomalies")
chosen = anomalies.where(F.col("anomaly_id") == anomaly_id) if anomaly_id else anomalies
ranked = chosen.orderBy(
    (F.col("scope_type") != "account").asc(), F.abs("deviation").desc(), F.col("usage_date").desc(), "anomaly_id"
)
picked = ranked.limit(1).collect()
anomaly = picked[0] if picked else None
if anomaly is None:
    print("No anomaly in gold.cost_anomalies (or the table is not built yet): nothing to explain.")
else:
    print(
        f"{anomaly.usage_date}, {anomaly.scope_type} {anomaly.scope_name or anomaly.scope_id}: spent"
        f" {anomaly.actual_cost:.2f} {anomaly.currency_code} ({anomaly.cost_basis} cost) where"
        f" {anomaly.expected_cost:.2f} was expected, {anomaly.deviation:+.2f} ({anomaly.deviation_percent:.1f}%)"
    )
display(readable(ranked.drop("top_contributors")))

# COMMAND ----------

# MAGIC %md
# MAGIC ## The scope's cost around that day
# MAGIC The scope's netted cost per day, two weeks either side, from `gold.cost` (one row per usage record):
# MAGIC `workspace` scopes are one workspace, `sku_group` scopes one `billing_origin_product`, `tag` scopes the
# MAGIC records carrying that `key=value`.

# COMMAND ----------

cost = attribution(table("gold.cost"))
cost_column = f"{anomaly.cost_basis}_cost" if anomaly else "contracted_cost"


def in_scope(scope_type: str, scope_id: str) -> Column:
    """The records of one anomaly scope."""
    if scope_type == "workspace":
        return F.col("workspace_id") == scope_id
    if scope_type == "sku_group":
        return F.col("billing_origin_product") == scope_id
    if scope_type == "tag":
        key, _, value = scope_id.partition("=")
        return F.col("custom_tags").getItem(key) == value
    return F.lit(True)


if anomaly is not None:
    scope = cost.where(
        in_scope(anomaly.scope_type, anomaly.scope_id) & (F.col("currency_code") == anomaly.currency_code)
    )
    around = scope.where(
        F.col("usage_date").between(anomaly.usage_date - timedelta(days=14), anomaly.usage_date + timedelta(days=14))
    )
    per_day = around.groupBy("usage_date").agg(F.sum(cost_column).alias(cost_column)).orderBy("usage_date")
    display(readable(per_day))
    scope_cost = scope.where(F.col("usage_date") == anomaly.usage_date).agg(F.sum(cost_column)).collect()[0][0]

# COMMAND ----------

# MAGIC %md
# MAGIC ## What explains it: the contributors
# MAGIC Each contributor's cost that day against its own expected value (the same weekday in earlier weeks); the
# MAGIC change and its share of the deviation. Largest first.

# COMMAND ----------

contributors = []
if anomaly is not None:
    exploded = chosen.where(F.col("anomaly_id") == anomaly.anomaly_id).select(
        F.posexplode("top_contributors").alias("rank", "contributor")
    )
    contributors = [r.contributor for r in exploded.orderBy("rank").collect()]
    display(readable(exploded.select("rank", "contributor.*")))

# COMMAND ----------

# MAGIC %md
# MAGIC ## The records behind the top contributor
# MAGIC Joined back to `gold.cost` on the contributor: a workload by its type and id (job, pipeline, notebook,
# MAGIC warehouse, endpoint, app, cluster), a tag value by `custom_tags[key] = value`, an identity by the user or
# MAGIC service principal who ran (else owns) the usage, within the anomaly's day and scope. Their cost adds up to
# MAGIC the contributor's cost that day.

# COMMAND ----------


def is_contributor(kind: str, ident: str) -> Column:
    """The records of one contributor, as gold.cost_anomalies names it."""
    if kind == "tag":
        key, _, value = ident.partition("=")
        return F.col("custom_tags").getItem(key) == value
    if kind == "identity":
        return F.col("identity") == ident
    return (F.col("workload_type") == kind) & (F.col("workload_id") == ident)


behind_cost = None
if anomaly is not None and contributors:
    top = contributors[0]
    behind = scope.where((F.col("usage_date") == anomaly.usage_date) & is_contributor(top.kind, top.id))
    behind_cost = behind.agg(F.sum(cost_column)).collect()[0][0]
    print(
        f"top contributor {top.kind} {top.name or top.id}: {behind.count()} records,"
        f" {behind_cost:.2f} {anomaly.currency_code} ({top.change:+.2f} against its expected {top.expected_cost:.2f})"
    )
    display(
        readable(
            behind.select(
                "record_id",
                "usage_date",
                "workspace_id",
                "sku_name",
                "usage_quantity",
                "workload_type",
                "workload_id",
                "workload_name",
                "identity",
                "custom_tags",
                cost_column,
            )
        )
    )

# COMMAND ----------

# MAGIC %md
# MAGIC ## Where the month is heading
# MAGIC The month-end forecast per scope (actual to the latest usage date, then the model's expectation, with
# MAGIC its 80% interval), and each budget: spend to date, forecast, projected breach date, thresholds crossed.

# COMMAND ----------

forecast = table("gold.cost_forecast")
latest_month = forecast.agg(F.max("month")).collect()[0][0]
month_end = (
    forecast.where((F.col("month") == latest_month) & F.col("scope_type").isin("account", "workspace"))
    .groupBy("scope_type", "scope_id", "scope_name", "currency_code", "cost_basis")
    .agg(
        F.max("as_of_date").alias("as_of_date"),
        F.max(F.when(F.col("usage_date") == F.col("as_of_date"), F.col("cumulative_cost"))).alias("spend_to_date"),
        F.max("month_end_forecast").alias("month_end_forecast_cost"),
        F.max("month_end_lower").alias("month_end_lower_cost"),
        F.max("month_end_upper").alias("month_end_upper_cost"),
    )
    .orderBy("scope_type", "scope_id", "cost_basis")
)
display(readable(month_end.withColumnRenamed("spend_to_date", "spend_to_date_cost")))
forecast_month_end = {
    (r.scope_type, r.scope_id, r.currency_code, r.cost_basis): r.month_end_forecast_cost for r in month_end.collect()
}

# COMMAND ----------

budgets = table("gold.budget_status").where(F.col("month") == latest_month) if latest_month else None
if budgets is not None:
    display(
        readable(
            budgets.select(
                "budget_name",
                "cost_basis",
                "currency_code",
                F.col("amount").alias("amount_cost"),
                F.col("spend_to_date").alias("spend_to_date_cost"),
                "percent_used",
                F.col("forecast_month_end").alias("forecast_cost"),
                "forecast_percent",
                "projected_breach_date",
                "thresholds_crossed",
                "status",
            ).orderBy("budget_name")
        )
    )
