"""The AI/BI dashboard (dashboards/billing_lakehouse.lvdash.json) shows what gold holds.

Lakeview runs a dataset's query with the dashboard's default catalog and schema (the bundle's `dataset_catalog` and
`dataset_schema`: the target's gold schema), then each widget's query over the dataset's result: the widget's fields,
grouped by those that are not aggregates unless the widget is disaggregated. This module does the same through Spark
SQL, against catalog tables the pipeline wrote (tests/test_catalog_tables.py's `catalog_run`, here in the schemas
the dev target renders with `catalog=spark_catalog`), and checks every figure against gold read through the store.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from pipelines.cli import main
from pipelines.config import PipelineConfig
from pipelines.storage import open_store
from pipelines.tables import (
    COST,
    COST_BY_IDENTITY,
    COST_BY_TAG,
    COST_BY_WORKLOAD,
    COST_DAILY,
    SOURCE_RECONCILIATION,
    UNPRICED_USAGE,
    TableSpec,
)
from tests.conftest import PRICES_HEADER, REPO, system_record, write_system_export
from tests.test_bundle import render
from tests.test_catalog_tables import LAYERS, catalog_run, delta_spark  # noqa: F401  (module fixtures, rebuilt here)
from tests.test_system_pipeline import ANA, BOB

DASHBOARD_FILE = REPO / "dashboards" / "billing_lakehouse.lvdash.json"
DASHBOARD = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
GOLD_TABLES = (COST, COST_DAILY, COST_BY_TAG, COST_BY_WORKLOAD, COST_BY_IDENTITY, UNPRICED_USAGE, SOURCE_RECONCILIATION)
AGGREGATE = re.compile(r"^(SUM|COUNT|COUNT_IF|AVG|MIN|MAX)\(", re.IGNORECASE)
COLUMN = re.compile(r"`([^`]+)`")
SUFFIX = uuid.uuid4().hex[:8]  # this module's own schemas: the suite shares one session catalog
OTHER_WORKSPACE = "2222222222222222"
UNPRICED_SKU = "PREMIUM_SQL_PRO_COMPUTE_US_EAST_N_VIRGINIA"  # no price in write_stage_one's export
DISCOUNTED_SKU = "PREMIUM_ALL_PURPOSE_COMPUTE"  # a price whose effective list price is below the list price
DISCOUNTED_PRICE = '"{""default"":""0.55"",""effective_list"":{""default"":""0.40""}}"'


def datasets() -> dict[str, dict[str, Any]]:
    return {dataset["name"]: dataset for dataset in DASHBOARD["datasets"]}


def dataset_sql(name: str) -> str:
    return "".join(datasets()[name]["queryLines"])


def widgets() -> list[dict[str, Any]]:
    return [item["widget"] for page in DASHBOARD["pages"] for item in page["layout"]]


def widget(title: str) -> dict[str, Any]:
    (found,) = [w for w in widgets() if "spec" in w and w["spec"]["frame"]["title"] == title]
    return found


def dataset_named(display_name: str) -> str:
    (name,) = [name for name, dataset in datasets().items() if dataset["displayName"] == display_name]
    return name


def _field_encodings(value: Any) -> list[dict[str, Any]]:
    """Every encoding that names a field (x, y, color, value, y.fields[...], columns[...], a filter's fields)."""
    if isinstance(value, list):
        return [found for item in value for found in _field_encodings(item)]
    if not isinstance(value, dict):
        return []
    own = [value] if "fieldName" in value else []
    return own + [found for item in value.values() for found in _field_encodings(item)]


def run_dataset(spark: SparkSession, name: str) -> DataFrame:
    return spark.sql(dataset_sql(name))


def run_widget_query(spark: SparkSession, query: dict[str, Any]) -> DataFrame:
    """A widget query the way Lakeview runs it: its fields over the dataset, grouped unless disaggregated."""
    fields = query["fields"]
    selected = ", ".join(f"{field['expression']} AS `{field['name']}`" for field in fields)
    text = f"SELECT {selected} FROM (\n{dataset_sql(query['datasetName'])}\n) AS dataset"
    groups = [field["expression"] for field in fields if not AGGREGATE.match(field["expression"])]
    if not query["disaggregated"] and groups:
        text += " GROUP BY " + ", ".join(groups)
    return spark.sql(text)


def first(frame: DataFrame) -> Row:
    row = frame.first()
    assert row is not None
    return row


def run_widget(spark: SparkSession, title: str) -> DataFrame:
    (query,) = widget(title)["queries"]
    return run_widget_query(spark, query["query"])


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    """The dev target as `databricks bundle deploy --var catalog=spark_catalog --var <layer>_schema=...` renders it."""
    variables = {"catalog": "spark_catalog", **{f"{layer}_schema": f"billing_{layer}_{SUFFIX}" for layer in LAYERS}}
    return render("dev", variables)


@pytest.fixture(scope="module")
def schemas(spark: SparkSession, rendered: dict[str, Any]) -> Iterator[dict[str, str]]:
    """The rendered schema resources (dev_ana_billing_<layer>_<suffix>): `catalog_run` writes its tables there."""
    names = {layer: rendered["resources"]["schemas"][layer]["name"] for layer in LAYERS}
    yield names
    for schema in names.values():
        spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{schema} CASCADE")


@pytest.fixture(scope="module")
def warehouse(spark: SparkSession, catalog_run: PipelineConfig) -> tuple[PipelineConfig, float]:  # noqa: F811
    """catalog_run's gold, then a later export and price: an untagged record in a second workspace, one no price
    covers, and one whose effective list price is below its list price (write_stage_one's prices have them equal).

    Returns the config and when that second run started.
    """
    assert catalog_run.system_usage is not None and catalog_run.system_usage.path is not None
    assert catalog_run.list_prices is not None and catalog_run.list_prices.path is not None
    later = [
        system_record(
            "u1", "2", day="2024-03-09", workspace_id=OTHER_WORKSPACE, tags={}, job=("103", "adhoc"), run_as=BOB
        ),
        system_record("u2", "5", day="2024-03-09", sku=UNPRICED_SKU, tags={}, job=None, run_as=None, product="SQL"),
        system_record(
            "u3", "4", day="2024-03-09", sku=DISCOUNTED_SKU, job=("104", "refresh"), run_as=ANA, serverless=False
        ),
    ]
    write_system_export(spark, Path(catalog_run.system_usage.path), "export_date=2024-03-10", later)
    prices = Path(catalog_run.list_prices.path) / "prices.csv"
    assert prices.read_text(encoding="utf-8").startswith(PRICES_HEADER)
    with prices.open("a", encoding="utf-8") as handle:
        handle.write(f"2023-01-01T00:00:00Z,,acc,{DISCOUNTED_SKU},AWS,USD,DBU,{DISCOUNTED_PRICE}\n")
    started = time.time()
    assert main(["run", "--config", catalog_run.source_file]) == 0
    return catalog_run, started


@pytest.fixture(scope="module")
def lakeview(
    spark: SparkSession, rendered: dict[str, Any], warehouse: tuple[PipelineConfig, float]
) -> Iterator[SparkSession]:
    """The session with the dashboard's dataset_catalog and dataset_schema as its current catalog and schema."""
    dashboard = rendered["resources"]["dashboards"]["billing_lakehouse"]
    for table in GOLD_TABLES:  # other modules register temporary views named like the gold tables; they would win
        spark.catalog.dropTempView(table.name)
    previous = (spark.catalog.currentCatalog(), spark.catalog.currentDatabase())
    spark.sql(f"USE {dashboard['dataset_catalog']}.{dashboard['dataset_schema']}")
    yield spark
    spark.sql(f"USE {previous[0]}.{previous[1]}")


@pytest.fixture(scope="module")
def gold(spark: SparkSession, warehouse: tuple[PipelineConfig, float]) -> Any:
    """Gold as the pipeline's store reads it (by catalog name), independent of the dashboard's SQL."""
    store = open_store(spark, warehouse[0])
    return store.read


def test_the_dashboard_file_is_shaped_like_a_lakeview_export():
    assert set(DASHBOARD) <= {"datasets", "pages", "uiSettings"}
    for dataset in DASHBOARD["datasets"]:
        # A dataset's own catalog and schema (a regenerated file may carry them) yield to dataset_catalog/_schema.
        assert (
            {"name", "displayName", "queryLines"}
            <= set(dataset)
            <= {"name", "displayName", "queryLines", "catalog", "schema"}
        )
        lines = dataset["queryLines"]
        assert all(line.endswith("\n") for line in lines[:-1]) and not lines[-1].endswith("\n")  # joined as is
    assert len(datasets()) == len(DASHBOARD["datasets"])
    for page in DASHBOARD["pages"]:
        assert {"name", "displayName", "layout"} <= set(page)
        for item in page["layout"]:
            assert set(item["position"]) == {"x", "y", "width", "height"}
            assert item["position"]["x"] + item["position"]["width"] <= 6  # the canvas is six columns wide
    names = [w["name"] for w in widgets()]
    assert len(names) == len(set(names))


def test_every_dataset_names_gold_tables_by_table_name_only():
    """The bundle's dataset_catalog and dataset_schema choose the target's gold schema: no query may name one."""
    gold = {table.name for table in GOLD_TABLES}
    for name in datasets():
        sql = dataset_sql(name)
        tables = re.findall(r"\bFROM\s+([\w`.]+)", sql, flags=re.IGNORECASE)
        assert tables and set(tables) <= gold, (name, tables)
        assert "${" not in sql and "billing_gold" not in sql and "system." not in sql, name


def test_every_widget_refers_to_a_dataset_and_to_fields_of_its_query():
    charts = [w for w in widgets() if "spec" in w]
    assert {w["spec"]["widgetType"] for w in charts} >= {"bar", "line", "counter", "table", "filter-date-range-picker"}
    for w in widgets():
        if "spec" not in w:
            assert w["multilineTextboxSpec"]["lines"], w["name"]
            continue
        assert {"version", "widgetType", "encodings", "frame"} <= set(w["spec"]), w["name"]
        queries = {query["name"]: query["query"] for query in w["queries"]}
        for query in queries.values():
            assert query["datasetName"] in datasets(), w["name"]
        for encoding in _field_encodings(w["spec"]["encodings"]):
            query = queries[encoding["queryName"]] if "queryName" in encoding else next(iter(queries.values()))
            assert encoding["fieldName"] in {field["name"] for field in query["fields"]}, (w["name"], encoding)


def test_every_dataset_and_widget_query_runs_on_the_targets_gold_schema(lakeview):
    columns = {name: run_dataset(lakeview, name).columns for name in datasets()}
    for w in widgets():
        for query in [query["query"] for query in w.get("queries", [])]:
            for field in query["fields"]:
                used = set(COLUMN.findall(field["expression"])) - {"*"}
                assert used <= set(columns[query["datasetName"]]), (w["name"], field)
            result = run_widget_query(lakeview, query)
            assert result.columns == [field["name"] for field in query["fields"]], w["name"]
            result.collect()  # analysed and run, not only parsed


@pytest.mark.parametrize(
    ("title", "key"),
    [("Effective cost per day by SKU", "sku_name"), ("Effective cost per day by workspace", "workspace_id")],
)
def test_cost_per_day_by_sku_and_by_workspace_equals_gold(lakeview, gold, title, key):
    expected = (
        gold(COST_DAILY)
        .groupBy(F.col("usage_date").cast("timestamp").alias("daily(usage_date)"), key)
        .agg(F.sum("effective_cost").alias("sum(effective_cost)"))
    )
    shown = run_widget(lakeview, title).select("daily(usage_date)", key, "sum(effective_cost)")
    assert_df_equality(shown, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=False)
    assert shown.select(key).distinct().count() >= (5 if key == "sku_name" else 2)  # not a vacuous comparison


def test_list_and_effective_cost_equal_gold_to_the_cent(lakeview, gold):
    totals = first(gold(COST).agg(F.sum("list_cost").alias("list"), F.sum("effective_cost").alias("effective")))
    assert totals is not None and totals.list > totals.effective > 0  # u3's effective list price is below list
    (list_cost,) = first(run_widget(lakeview, "List cost"))
    (effective_cost,) = first(run_widget(lakeview, "Effective cost"))
    assert (list_cost, effective_cost) == (totals.list, totals.effective)
    cent = Decimal("0.01")
    assert list_cost.quantize(cent) == totals.list.quantize(cent)
    monthly = gold(COST).groupBy(F.date_trunc("MONTH", "usage_date").alias("monthly(usage_date)"))
    expected = monthly.agg(
        F.sum("list_cost").alias("sum(list_cost)"),
        F.sum("effective_cost").alias("sum(effective_cost)"),
        F.sum("contracted_cost").alias("sum(contracted_cost)"),
    )
    shown = run_widget(lakeview, "List, effective and contracted cost per month")
    assert_df_equality(shown, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=False)


@pytest.mark.parametrize(
    ("display_name", "table", "keys"),
    [
        ("Top workloads", COST_BY_WORKLOAD, ("workload_type", "workload_id")),
        ("Top identities", COST_BY_IDENTITY, ("identity", "identity_role")),
    ],
)
def test_top_workloads_and_identities_rank_by_effective_cost(lakeview, gold, display_name, table: TableSpec, keys):
    """Usage without a workload (or identity) is left out of the ranking."""
    rows = run_dataset(lakeview, dataset_named(display_name)).orderBy("currency_code", "cost_rank").collect()
    shown = [(*(row[k] for k in keys), row.effective_cost) for row in rows]
    totals = (
        gold(table)
        .where(F.col(keys[1]).isNotNull())
        .groupBy(*keys)
        .agg(F.sum("effective_cost").alias("effective_cost"))
        .collect()
    )
    expected = sorted(
        ((*(row[k] for k in keys), row.effective_cost) for row in totals),
        key=lambda entry: (entry[-1] is None, -(entry[-1] or 0), *entry[:-1]),
    )
    assert shown == expected and len(shown) >= 2
    assert [row.cost_rank for row in rows] == list(range(1, len(rows) + 1))
    table_widget = next(
        w
        for w in widgets()
        if w.get("queries") and w["queries"][0]["query"]["datasetName"] == dataset_named(display_name)
    )
    assert table_widget["spec"]["encodings"]["columns"][0]["fieldName"] == "cost_rank"  # shown in rank order


def test_the_untagged_share_is_the_share_of_priced_cost_without_custom_tags(lakeview, gold):
    priced = gold(COST).where("is_priced")
    untagged = F.coalesce(F.size("custom_tags"), F.lit(0)) <= 0
    totals = priced.agg(
        F.sum("effective_cost").alias("total"), F.sum(F.when(untagged, F.col("effective_cost"))).alias("untagged")
    ).first()
    assert totals is not None and 0 < totals.untagged < totals.total  # the later export's u1 carries no tag
    (share,) = first(run_widget(lakeview, "Untagged share of effective cost (all dates)"))
    assert abs(Decimal(share) - totals.untagged / totals.total) < Decimal("0.000001")
    per_day = run_widget(lakeview, "Tagged and untagged effective cost per day")
    expected = priced.groupBy(F.col("usage_date").cast("timestamp").alias("daily(usage_date)")).agg(
        F.coalesce(F.sum(F.when(~untagged, F.col("effective_cost"))), F.lit(0)).alias("sum(tagged_cost)"),
        F.coalesce(F.sum(F.when(untagged, F.col("effective_cost"))), F.lit(0)).alias("sum(untagged_cost)"),
    )
    assert_df_equality(per_day, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=False)


def test_unpriced_usage_counts_every_record_without_a_price(lakeview, gold):
    unpriced = gold(COST).where("NOT is_priced").count()
    assert unpriced == gold(UNPRICED_USAGE).count() == 1  # the later export's u2
    assert first(gold(COST_DAILY).agg(F.sum("unpriced_record_count"))) == (unpriced,)
    assert first(run_widget(lakeview, "Unpriced records")) == (unpriced,)
    assert first(run_widget(lakeview, "Unpriced usage records")) == (unpriced,)  # the cost page's counter
    rows = run_dataset(lakeview, dataset_named("Unpriced usage")).collect()
    assert [(row.sku_name, row.record_count, row.usage_quantity) for row in rows] == [(UNPRICED_SKU, 1, Decimal("5"))]


def test_freshness_shows_each_gold_tables_newest_usage_date_and_last_write(lakeview, gold, warehouse, schemas):
    _, second_run = warehouse
    rows = {row.table_name: row for row in run_dataset(lakeview, dataset_named("Freshness")).collect()}
    assert set(rows) == {table.key for table in GOLD_TABLES}
    for table in GOLD_TABLES:
        row, data = rows[table.key], gold(table)
        assert row.latest_usage_date == first(data.agg(F.max("usage_date")))[0], table.key
        assert row.row_count == data.count(), table.key
        history = lakeview.sql(f"DESCRIBE HISTORY spark_catalog.{schemas['gold']}.{table.name}")
        committed = first(history.agg(F.max("timestamp")))[0]
        assert row.last_written.timestamp() <= committed.timestamp() + 1, table.key  # files are written, then committed
    for table in (COST, COST_DAILY, UNPRICED_USAGE):  # rewritten for 2024-03-09 by the second run
        assert rows[table.key].last_written.timestamp() >= second_run - 1, table.key
    assert rows[UNPRICED_USAGE.key].latest_usage_date.isoformat() == "2024-03-09"  # u2
    assert rows[COST.key].latest_usage_date.isoformat() == "2024-03-20"  # the legacy row no export covers
