"""Catalog tables: with `catalog` and `schemas` set (storage delta-spark), every table is a catalog table.

Spark's session catalog with Delta's catalog (`spark_catalog`, three-part names) receives the same calls
Unity Catalog does: `CREATE SCHEMA IF NOT EXISTS`, `saveAsTable`, `DeltaTable.forName`, `tableExists`.
Its managed tables go under the session's `spark.sql.warehouse.dir` (a tmp folder, tests/conftest.py);
each module run uses schemas of its own (a random suffix), since the suite shares one session.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.cli import main
from pipelines.config import PipelineConfig, load_config
from pipelines.errors import ConfigError
from pipelines.storage import TableStore, delta_spark_available, open_reader, open_store
from pipelines.tables import (
    ALL_TABLES,
    COST,
    COST_BY_IDENTITY,
    COST_BY_TAG,
    COST_BY_WORKLOAD,
    COST_DAILY,
    SOURCE_RECONCILIATION,
    UNPRICED_USAGE,
    USAGE,
    TableSpec,
)
from pipelines.views import register_list_prices_view, register_views
from tests.conftest import REPO, write_config
from tests.test_system_pipeline import QUESTIONS, answer, write_stage_one

LAYERS = ("bronze", "silver", "gold")
GOLD = [COST_DAILY, COST_BY_TAG, COST_BY_WORKLOAD, COST_BY_IDENTITY, UNPRICED_USAGE, SOURCE_RECONCILIATION]


def catalog_config(source: Path, schemas: dict[str, str]) -> PipelineConfig:
    """The config file at `source` rewritten to write catalog tables `spark_catalog.<schema>.<table>`."""
    text = source.read_text(encoding="utf-8").replace("storage: delta-rs\n", "storage: delta-spark\n")
    named = ", ".join(f"{layer}: {schema}" for layer, schema in schemas.items())
    source.write_text(f"{text}catalog: spark_catalog\nschemas: {{{named}}}\n", encoding="utf-8")
    return load_config(source)


@pytest.fixture(scope="module")
def delta_spark(spark: SparkSession) -> SparkSession:
    """The suite's session, where Delta's classes loaded (`make jars`); CI fails instead of skipping."""
    if not delta_spark_available(spark):
        message = "the Delta Lake jars are not on the session's class path (make jars)"
        if os.environ.get("BILLING_LAKEHOUSE_REQUIRE_JARS"):
            pytest.fail(message)
        pytest.skip(message)
    return spark


@pytest.fixture(scope="module")
def schemas(delta_spark: SparkSession) -> Iterator[dict[str, str]]:
    """A schema name per layer, unique to this module's run, dropped with its tables afterwards."""
    suffix = uuid.uuid4().hex[:8]
    names = {layer: f"billing_{layer}_{suffix}" for layer in LAYERS}
    yield names
    for schema in names.values():
        delta_spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{schema} CASCADE")


@pytest.fixture(scope="module")
def catalog_run(
    delta_spark: SparkSession, schemas: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> PipelineConfig:
    """Legacy deliveries, system exports with corrections and prices, run once into catalog tables."""
    for schema in schemas.values():
        assert not delta_spark.catalog.databaseExists(f"spark_catalog.{schema}")  # the run creates them
    built = write_stage_one(delta_spark, tmp_path_factory.mktemp("catalog"))
    config = catalog_config(Path(built.source_file), schemas)
    assert main(["run", "--config", config.source_file]) == 0
    return config


@pytest.fixture(scope="module")
def path_run(delta_spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> PipelineConfig:
    """The same inputs into a path-based warehouse (`<warehouse>/<layer>/<table>`) on the same backend."""
    source = Path(write_stage_one(delta_spark, tmp_path_factory.mktemp("paths")).source_file)
    source.write_text(source.read_text(encoding="utf-8").replace("storage: delta-rs\n", "storage: delta-spark\n"))
    assert main(["run", "--config", str(source)]) == 0
    return load_config(source)


def catalog_name(schemas: dict[str, str], table: TableSpec) -> str:
    return f"spark_catalog.{schemas[table.layer]}.{table.name}"


def versions(store: TableStore) -> dict[str, int | None]:
    return {table.key: store.version(table) for table in ALL_TABLES}


def test_a_catalog_needs_a_backend_that_writes_catalog_tables(tmp_path):
    config = write_config(tmp_path, None, None, extra="catalog: main\n")  # storage: delta-rs
    with pytest.raises(ConfigError, match="storage: expected delta-spark or auto when catalog is set"):
        load_config(config)


def test_every_table_is_a_catalog_table_in_the_schemas_the_run_created(delta_spark, catalog_run, schemas):
    store = open_store(delta_spark, catalog_run)
    written = [table for table in ALL_TABLES if store.version(table) is not None]
    assert {table.layer for table in written} == set(LAYERS)
    for layer, schema in schemas.items():
        # SHOW TABLES also lists the session's temporary views (other tests register gold views), whatever the schema.
        shown = delta_spark.sql(f"SHOW TABLES IN spark_catalog.{schema}").where("NOT isTemporary").collect()
        listed = {row.tableName for row in shown}
        assert listed == {table.name for table in written if table.layer == layer}, layer
    for table in written:
        name = catalog_name(schemas, table)
        assert store.location(table) == name
        assert delta_spark.catalog.tableExists(name)
        detail = delta_spark.sql(f"DESCRIBE DETAIL {name}").first()
        assert detail is not None and detail.format == "delta"
        assert detail.location.startswith(delta_spark.conf.get("spark.sql.warehouse.dir")), name  # managed
    assert not any((Path(catalog_run.warehouse) / layer).exists() for layer in LAYERS)  # no path tables


def test_each_catalog_table_records_what_it_consumed_from_its_first_version(delta_spark, catalog_run, schemas):
    """Delta ignores the userMetadata option of the write that creates a table; version 0 must still carry it."""
    store = open_store(delta_spark, catalog_run)
    for table in ALL_TABLES:
        if store.version(table) is None:
            continue
        history = delta_spark.sql(f"DESCRIBE HISTORY {catalog_name(schemas, table)}")
        first = history.where("version = 0").select("operation", "userMetadata").first()
        assert first is not None and first.operation == "CREATE TABLE AS SELECT", table.key
        assert json.loads(first.userMetadata)["app"] == "billing-lakehouse", table.key


def test_deltas_own_python_api_reads_what_the_pipeline_wrote(delta_spark, catalog_run, schemas):
    """A Databricks user's `delta.tables.DeltaTable` sees the tables the backend's SQL and DataFrame calls wrote.

    The backend reads by name and `DESCRIBE HISTORY` (they work over Spark Connect, where `DeltaTable` needs
    Delta's Connect plugin); this checks the same tables through the delta-spark package's API.
    """
    from delta.tables import DeltaTable

    store = open_store(delta_spark, catalog_run)
    for table in ALL_TABLES:
        if store.version(table) is None:
            continue
        delta = DeltaTable.forName(delta_spark, catalog_name(schemas, table))
        newest = delta.history(1).select("version", "userMetadata").first()
        assert newest is not None and newest.version == store.version(table), table.key
        recorded = json.loads(newest.userMetadata)
        assert recorded["app"] == "billing-lakehouse" and isinstance(recorded["transaction"], int), table.key
        assert delta.toDF().count() == store.row_count(table), table.key
        location = delta.detail().select("location").first()
        assert location is not None and DeltaTable.isDeltaTable(delta_spark, location.location), table.key


def gold_without_lineage(store: TableStore, table: TableSpec) -> DataFrame:
    data = store.read(table)
    return data.drop(*[c for c in data.columns if c.startswith("_")])


def test_gold_equals_the_same_run_on_a_path_based_warehouse(delta_spark, catalog_run, path_run):
    catalog, paths = open_store(delta_spark, catalog_run), open_store(delta_spark, path_run)
    for table in GOLD:
        assert_df_equality(
            gold_without_lineage(catalog, table),
            gold_without_lineage(paths, table),
            ignore_row_order=True,
            ignore_nullable=True,
            ignore_column_order=True,
        )
    totals = ["usage_unit", "currency_code"]
    sums = [F.sum("usage_quantity").alias("quantity"), F.sum("effective_cost").alias("effective_cost")]
    assert_df_equality(
        catalog.read(COST).groupBy(*totals).agg(*sums),
        paths.read(COST).groupBy(*totals).agg(*sums),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert catalog.read(COST).count() == paths.read(COST).count() == 7


def test_a_rerun_writes_no_new_version(delta_spark, catalog_run, schemas):
    store = open_store(delta_spark, catalog_run)
    before = versions(store)
    history = {key: delta_spark.sql(f"DESCRIBE HISTORY {name}").count() for key, name in _names(before, schemas)}
    assert main(["run", "--config", catalog_run.source_file]) == 0
    assert versions(open_store(delta_spark, catalog_run)) == before
    assert {key: delta_spark.sql(f"DESCRIBE HISTORY {name}").count() for key, name in _names(before, schemas)} == (
        history
    )


def _names(versions: dict[str, int | None], schemas: dict[str, str]) -> list[tuple[str, str]]:
    by_key = {table.key: table for table in ALL_TABLES}
    return [(key, catalog_name(schemas, by_key[key])) for key, version in versions.items() if version is not None]


def test_status_summary_and_report_name_the_catalog_tables(delta_spark, catalog_run, schemas, tmp_path, capsys):
    assert open_reader(catalog_run, lambda: delta_spark).location(COST) == catalog_name(schemas, COST)
    assert main(["status", "--config", catalog_run.source_file]) == 0
    status = capsys.readouterr().out
    assert main(["summary", "--config", catalog_run.source_file]) == 0
    summary = capsys.readouterr().out
    for table in ALL_TABLES:
        assert catalog_name(schemas, table) in status and catalog_name(schemas, table) in summary, table.key
    assert catalog_run.warehouse not in status
    out = tmp_path / "report.html"
    assert main(["report", "--config", catalog_run.source_file, "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    version = open_store(delta_spark, catalog_run).version(COST_DAILY)
    assert f"<td>gold.cost_daily</td><td>{catalog_name(schemas, COST_DAILY)}</td><td class=n>{version}</td>" in page


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_the_sample_questions_run_over_views_of_the_catalog_tables(delta_spark, catalog_run, question):
    store = open_store(delta_spark, catalog_run)
    register_views(store, [USAGE, COST_BY_TAG, COST_BY_WORKLOAD, COST_BY_IDENTITY])
    register_list_prices_view(store)
    args = QUESTIONS[question]
    seed = delta_spark.sql((REPO / "queries" / "seed" / f"{question}.sql").read_text(), args=args).collect()
    gold = delta_spark.sql((REPO / "queries" / "gold" / f"{question}.sql").read_text(), args=args).collect()
    assert seed and answer(gold) == answer(seed)


def test_the_notebooks_read_the_catalog_tables(delta_spark, catalog_run, monkeypatch):
    """cost_overview (gold) and corrections_explorer (bronze), cell by cell, with the catalog config."""
    monkeypatch.setenv("BILLING_LAKEHOUSE_CONFIG", catalog_run.source_file)
    namespaces = {}
    for stem in ("cost_overview", "corrections_explorer"):
        source = (REPO / "notebooks" / f"{stem}.py").read_text(encoding="utf-8")
        namespace: dict = {"__name__": "__main__"}
        for number, cell in enumerate(source.split("\n# COMMAND ----------\n")):
            exec(compile(cell, f"{stem}.py cell {number}", "exec"), namespace)
        namespaces[stem] = namespace
    cost = open_store(delta_spark, catalog_run).read(COST)
    priced = cost.groupBy("usage_unit", "currency_code").agg(F.sum("effective_cost").alias("total")).collect()
    assert namespaces["cost_overview"]["total_effective_cost"] == {
        (r.usage_unit, r.currency_code): r.total for r in priced
    }
    assert namespaces["corrections_explorer"]["correction_counts"] == {"RETRACTION": 1, "RESTATEMENT": 1}
