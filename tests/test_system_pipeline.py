"""Legacy CSVs and system-table exports through the whole pipeline: precedence, reconciliation, units,
overlapping exports, the sample questions, and a late restatement that recomputes one day only."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.cli import main
from pipelines.config import PipelineConfig, load_config
from pipelines.report.html import money
from pipelines.runner import run_pipeline
from pipelines.storage import TableStore, open_store
from pipelines.tables import (
    BUDGET_STATUS,
    COST,
    COST_ANOMALIES,
    COST_BY_IDENTITY,
    COST_BY_TAG,
    COST_BY_WORKLOAD,
    COST_DAILY,
    COST_FORECAST,
    FOCUS_COST,
    INGEST_LOG,
    LATE_CORRECTIONS,
    QUARANTINE,
    SOURCE_RECONCILIATION,
    SUPERSEDED_LEGACY,
    SYSTEM_USAGE,
    UNPRICED_USAGE,
    USAGE,
    TableSpec,
)
from pipelines.views import register_list_prices_view, register_views
from tests.browser import render
from tests.conftest import (
    REPO,
    SERVERLESS_JOBS,
    correction,
    system_record,
    usage_row,
    write_config,
    write_delivery,
    write_prices,
    write_system_export,
)

WS = "1111111111111111"
NOTEBOOKS = "PREMIUM_INTERACTIVE_SERVERLESS_COMPUTE_US_EAST_N_VIRGINIA"
STORAGE = "PREMIUM_DEFAULT_STORAGE_US_EAST_N_VIRGINIA"
ANA, BOB = "ana@example.com", "bob@example.com"

O1 = system_record("o1", "10", job=("101", "nightly etl"), run_as=ANA)
O2 = system_record("o2", "2.5", sku="PREMIUM_JOBS_COMPUTE", job=("102", "classic"), run_as=BOB, serverless=False)
O3 = system_record(
    "o3",
    "4",
    sku=NOTEBOOKS,
    job=None,
    notebook=("n1", "/Users/ana/explore"),
    product="INTERACTIVE",
    tags={"team": "ml"},
)
O4 = system_record("o4", "7", sku=STORAGE, unit="DSU", job=None, run_as=None, product="DEFAULT_STORAGE")
O5 = system_record("o5", "1.25", day="2024-03-06", job=("101", "nightly etl"), run_as=ANA)
# O3 corrected: retracted and restated with 3 DBUs.
R3 = correction(O3, "r3", "RETRACTION", "2024-03-08")
S3 = correction(O3, "s3", "RESTATEMENT", "2024-03-08", usage_quantity=Decimal("3"))


def write_stage_one(spark: SparkSession, tmp: Path, storage: str = "delta-rs") -> PipelineConfig:
    """Legacy CSVs for February and March, system-table exports from 2024-03-05 on (two overlapping files)."""
    legacy = tmp / "legacy"
    write_delivery(legacy, WS, "2024-02", [usage_row(timestamp="2024-02-10T09:59:59.999Z", dbus="4.0")])
    write_delivery(
        legacy,
        WS,
        "2024-03",
        [
            usage_row(timestamp="2024-03-05T09:59:59.999Z", dbus="3.0"),  # covered by system tables
            usage_row(timestamp="2024-03-20T09:59:59.999Z", dbus="2.0"),  # not covered
        ],
    )
    write_system_export(spark, tmp / "system", "export_date=2024-03-06", [O1, O2, O3, O4])
    write_system_export(spark, tmp / "system", "export_date=2024-03-08", [O1, O5, R3, S3])  # O1 again
    write_prices(
        tmp / "prices" / "prices.csv",
        [
            ("PREMIUM_JOBS_COMPUTE", "2023-01-01T00:00:00Z", "", "0.15"),
            (SERVERLESS_JOBS, "2023-01-01T00:00:00Z", "", "0.35"),
            (NOTEBOOKS, "2023-01-01T00:00:00Z", "", "0.75"),
            (STORAGE, "2023-01-01T00:00:00Z", "", "0.023", "DSU"),
        ],
    )
    extra = f"  system_usage:\n    path: {tmp / 'system'}\n    format: parquet\n"
    path = write_config(
        tmp,
        legacy,
        tmp / "prices",
        workspaces=f'  "{WS}": {{cloud: AWS, tier: PREMIUM, region: us-east-1}}\n',
        storage=storage,
    )
    text = path.read_text().replace("workspaces:\n", extra + "workspaces:\n", 1)
    path.write_text(text)
    return load_config(path)


@pytest.fixture(scope="module")
def built(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, backend: str) -> PipelineConfig:
    config = write_stage_one(spark, tmp_path_factory.mktemp("system"), backend)
    run_pipeline(spark, config)
    return config


def quantities(store: TableStore, table: TableSpec, *keys: str) -> dict[tuple, Decimal]:
    rows = store.read(table).groupBy(*keys).agg(F.sum("usage_quantity").alias("q")).collect()
    return {tuple(str(r[k]) for k in keys): r.q for r in rows}


def test_system_tables_take_precedence_and_nothing_is_counted_twice(spark, built):
    store = open_store(spark, built)
    by_day = (
        store.read(USAGE)
        .groupBy("usage_date", "source", "usage_unit")
        .agg(F.sum("usage_quantity").alias("usage_quantity"))
    )
    expected = spark.createDataFrame(
        [
            (date(2024, 2, 10), "legacy_csv", "DBU", Decimal("4")),
            (date(2024, 3, 5), "system_tables", "DBU", Decimal("15.5")),  # 10 + 2.5 + 3 (restated); legacy 3 left out
            (date(2024, 3, 5), "system_tables", "DSU", Decimal("7")),
            (date(2024, 3, 6), "system_tables", "DBU", Decimal("1.25")),
            (date(2024, 3, 20), "legacy_csv", "DBU", Decimal("2")),
        ],
        "usage_date date, source string, usage_unit string, usage_quantity decimal(38,18)",
    )
    assert_df_equality(by_day, expected, ignore_row_order=True, ignore_nullable=True)
    assert store.read(COST).count() == store.read(USAGE).count() == 7


def test_overlapping_exports_land_each_record_once_and_every_record_is_accounted_for(spark, built):
    store = open_store(spark, built)
    ids = spark.createDataFrame([(i,) for i in ("o1", "o2", "o3", "o4", "o5", "r3", "s3")], "record_id string")
    assert_df_equality(store.read(SYSTEM_USAGE).select("record_id"), ids, ignore_row_order=True, ignore_nullable=True)
    logged = [r for r in store.read_rows(INGEST_LOG) if r["source"] == "system_usage"]
    assert len(logged) == 2
    assert all(r["rows_read"] == r["rows_landed"] + r["rows_quarantined"] == 4 for r in logged)


def test_source_reconciliation_shows_both_totals_and_the_difference(spark, built):
    store = open_store(spark, built)
    rows = {
        (str(r.usage_date), r.sku_name, r.usage_unit): r
        for r in store.read(SOURCE_RECONCILIATION).collect()
        if r.workspace_id == WS
    }
    overlap = rows[("2024-03-05", "PREMIUM_JOBS_COMPUTE", "DBU")]
    assert (overlap.legacy_quantity, overlap.system_quantity, overlap.difference) == (
        Decimal("3"),
        Decimal("2.5"),
        Decimal("0.5"),
    )
    assert overlap.source_used == "system_tables"
    legacy_only = rows[("2024-03-20", "PREMIUM_JOBS_COMPUTE", "DBU")]
    assert (legacy_only.system_quantity, legacy_only.difference, legacy_only.source_used) == (
        None,
        Decimal("2"),
        "legacy_csv",
    )
    system_only = rows[("2024-03-05", SERVERLESS_JOBS, "DBU")]
    assert (system_only.legacy_quantity, system_only.difference) == (None, Decimal("-10"))


def test_silver_keeps_apart_the_legacy_rows_the_system_tables_supersede(spark, built):
    store = open_store(spark, built)
    columns = ("usage_date", "workspace_id", "source", "sku_name", "usage_quantity")
    superseded = store.read(SUPERSEDED_LEGACY).select(*columns)
    expected = spark.createDataFrame(
        [(date(2024, 3, 5), WS, "legacy_csv", "PREMIUM_JOBS_COMPUTE", Decimal("3"))],
        "usage_date date, workspace_id string, source string, sku_name string, usage_quantity decimal(38,18)",
    )
    assert_df_equality(superseded, expected, ignore_row_order=True, ignore_nullable=True)


def test_source_reconciliation_consumed_silver_tables_only(spark, built):
    commit = open_store(spark, built).last_commit(SOURCE_RECONCILIATION)
    assert commit is not None
    assert set(commit.metadata["inputs"]) == {USAGE.key, SUPERSEDED_LEGACY.key}
    assert all(key.startswith("silver.") for key in commit.metadata["inputs"])


def test_units_are_never_summed_together_and_are_priced_by_their_own_unit(spark, built):
    store = open_store(spark, built)
    daily = store.read(COST_DAILY).where("usage_date = '2024-03-05' AND source = 'system_tables'")
    expected = spark.createDataFrame(
        [
            (SERVERLESS_JOBS, "DBU"),
            ("PREMIUM_JOBS_COMPUTE", "DBU"),
            (NOTEBOOKS, "DBU"),
            (STORAGE, "DSU"),
        ],
        "sku_name string, usage_unit string",
    )
    assert_df_equality(daily.select("sku_name", "usage_unit"), expected, ignore_row_order=True, ignore_nullable=True)
    storage = daily.where("usage_unit = 'DSU'").collect()[0]
    assert storage.effective_cost == Decimal("0.161")  # 7 DSU x 0.023
    for table in (COST_BY_TAG, COST_BY_WORKLOAD, COST_BY_IDENTITY):
        assert {r.usage_unit for r in store.read(table).collect()} <= {"DBU", "DSU"}


def test_attribution_tables(spark, built):
    store = open_store(spark, built)
    tags = {
        (r.tag_key, r.tag_value): r.usage_quantity
        for r in store.read(COST_BY_TAG).where("usage_unit = 'DBU'").collect()
    }
    assert tags[("team", "ml")] == Decimal("3")
    workloads = store.read(COST_BY_WORKLOAD).where("workload_type = 'job'").groupBy("workload_id", "workload_name")
    jobs = workloads.agg(F.sum("usage_quantity").alias("usage_quantity"))
    expected = spark.createDataFrame(
        [("101", "nightly etl", Decimal("11.25")), ("102", "classic", Decimal("2.5"))],
        "workload_id string, workload_name string, usage_quantity decimal(38,18)",
    )
    assert_df_equality(jobs, expected, ignore_row_order=True, ignore_nullable=True)
    identities = store.read(COST_BY_IDENTITY).where("usage_unit = 'DBU'").groupBy("identity", "identity_role")
    who = {(r.identity, r.identity_role): r.q for r in identities.agg(F.sum("usage_quantity").alias("q")).collect()}
    assert who[(ANA, "run_as")] == Decimal("14.25")  # 10 + 3 + 1.25
    assert who[("ana@example.com", "cluster_owner")] == Decimal("6")  # legacy rows: the cluster owner


QUESTIONS = {
    "1_user_cost": {"identity": ANA, "start": "2024-03-01", "end": "2024-03-15"},
    "2_expensive_notebooks": {"today": "2024-03-25"},
    "3_expensive_jobs": {"today": "2024-03-25"},
    "4_user_dbus": {"user_name": "ana", "domain_name": "example", "top_level_domain": "com", "today": "2024-03-25"},
    "5_tag_dbus": {"tag_key": "team", "tag_value": "data", "today": "2024-03-25"},
}


def answer(rows: list) -> list[str]:
    """Rows compared by value: decimals of different scales are equal, order of equal totals does not matter."""
    return sorted(repr(tuple(v.normalize() if isinstance(v, Decimal) else v for v in row)) for row in rows)


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_each_sample_question_gives_the_seed_answer_from_gold(spark, built, question):
    store = open_store(spark, built)
    register_views(store, [USAGE, COST_BY_TAG, COST_BY_WORKLOAD, COST_BY_IDENTITY])
    register_list_prices_view(store)
    args = QUESTIONS[question]
    seed = spark.sql((REPO / "queries" / "seed" / f"{question}.sql").read_text(), args=args).collect()
    gold = spark.sql((REPO / "queries" / "gold" / f"{question}.sql").read_text(), args=args).collect()
    assert seed, "the test data should give the question an answer"
    assert answer(gold) == answer(seed)
    if question == "1_user_cost":
        assert gold[0][0] == Decimal("6.1875")  # 10 x 0.35 + 3 x 0.75 + 1.25 x 0.35


def touched_partitions(store: TableStore, table: TableSpec, version: int) -> set[str]:
    """The partition values of the files one commit added or removed, read from the Delta log."""
    log = Path(store.location(table)) / "_delta_log" / f"{version:020d}.json"
    touched = set()
    for line in log.read_text().splitlines():
        action = json.loads(line)
        for kind in ("add", "remove"):
            if kind in action:
                touched.add(action[kind]["partitionValues"][table.partition_by[0]])
    return touched


def test_a_late_restatement_recomputes_exactly_its_day(spark, built, tmp_path):
    config = load_config(built.source_file)
    # Work on a copy, so the other tests keep the first state.
    shutil.copytree(Path(config.warehouse), tmp_path / "warehouse")
    moved = Path(config.source_file).read_text().replace(config.warehouse, str(tmp_path / "warehouse"))
    (tmp_path / "pipeline.yml").write_text(moved)
    shutil.copy(Path(config.source_file).parent / "skus.yml", tmp_path / "skus.yml")
    config = load_config(tmp_path / "pipeline.yml")
    assert config.system_usage is not None and config.system_usage.path is not None
    system = Path(config.system_usage.path)
    late = [
        correction(O5, "r5", "RETRACTION", "2024-04-15"),
        correction(O5, "s5", "RESTATEMENT", "2024-04-15", usage_quantity=Decimal("2")),
    ]
    write_system_export(spark, system, "export_date=2024-04-15", late)  # 40 days after 2024-03-06

    summary = run_pipeline(spark, config)
    store = open_store(spark, config)
    derived = [USAGE, COST, COST_DAILY, COST_BY_TAG, COST_BY_WORKLOAD, COST_BY_IDENTITY, SOURCE_RECONCILIATION]
    # Ingested after March was invoiced (from 2024-04-05): the FOCUS view books the pair to April.
    derived += [LATE_CORRECTIONS, FOCUS_COST]
    empty = [UNPRICED_USAGE, SUPERSEDED_LEGACY]
    # The outlook reads the aggregates: the forecast of the latest month and the budgets' status are rebuilt,
    # the anomalies are recomputed for the day and the same weekdays after it whose baseline reads it.
    outlook = [COST_FORECAST, BUDGET_STATUS, COST_ANOMALIES]
    assert set(summary.written) == {"bronze.system_usage", *(t.key for t in derived + empty + outlook)}
    forecast = store.last_commit(COST_FORECAST)
    assert forecast is not None and forecast.metadata["changed"]["scopes"], "the account's series changed"
    anomalies = store.last_commit(COST_ANOMALIES)
    assert anomalies is not None
    baseline_days = {(date(2024, 3, 6) + timedelta(days=7 * week)).isoformat() for week in range(5)}
    assert set(anomalies.metadata["changed"].get("usage_dates", [])) <= baseline_days
    assert touched_partitions(store, SYSTEM_USAGE, summary.written["bronze.system_usage"]) == {"2024-03-06"}
    for table in derived:
        assert touched_partitions(store, table, summary.written[table.key]) == {"2024-03-06"}, table
    # That day has no unpriced usage and no legacy rows: the commits record the day as recomputed and touch no file.
    for table in empty:
        assert touched_partitions(store, table, summary.written[table.key]) == set(), table
        commit = store.last_commit(table)
        assert commit is not None
        assert commit.metadata["changed"] == {"usage_dates": ["2024-03-06"]}, table
    assert quantities(store, USAGE, "usage_date")[("2024-03-06",)] == Decimal("2")
    april = store.read(FOCUS_COST).where("BillingPeriodStart = '2024-04-01'").collect()
    assert sorted((r.x_RecordId, r.ChargeClass) for r in april) == [("r5", "Correction"), ("s5", "Correction")]
    assert store.row_count(QUARANTINE) == 0


NOTEBOOK_FILES = sorted((REPO / "notebooks").glob("*.py"))


@pytest.mark.parametrize("notebook", NOTEBOOK_FILES, ids=lambda path: path.stem)
def test_every_notebook_runs_on_the_warehouse_and_shows_the_gold_totals(spark, built, notebook, monkeypatch):
    """Each notebook, cell by cell as Databricks runs it, against this module's warehouse (it has corrections)."""
    monkeypatch.setenv("BILLING_LAKEHOUSE_CONFIG", built.source_file)
    source = notebook.read_text(encoding="utf-8")
    assert source.startswith("# Databricks notebook source\n")
    namespace: dict = {"__name__": "__main__"}
    for number, cell in enumerate(source.split("\n# COMMAND ----------\n")):
        exec(compile(cell, f"{notebook.name} cell {number}", "exec"), namespace)

    store = open_store(spark, built)
    cost = store.read(COST)
    priced_total = {
        (r.usage_unit, r.currency_code): r.total
        for r in cost.groupBy("usage_unit", "currency_code").agg(F.sum("effective_cost").alias("total")).collect()
    }
    if notebook.stem == "cost_overview":
        assert namespace["total_effective_cost"] == priced_total
    if notebook.stem == "top_workloads":
        assert sum(v for v in namespace["cost_by_type"].values() if v is not None) == sum(
            v for v in priced_total.values() if v is not None
        )
    if notebook.stem == "tag_coverage":
        untagged = cost.where("is_priced and (custom_tags is null or size(custom_tags) = 0)")
        untagged_cost = untagged.agg(F.sum("effective_cost")).collect()[0][0] or 0
        share = untagged_cost / cost.where("is_priced").agg(F.sum("effective_cost")).collect()[0][0]
        assert float(namespace["untagged_share"]["USD"]) == pytest.approx(float(share), abs=1e-4)
    if notebook.stem == "corrections_explorer":
        assert namespace["correction_counts"] == {"RETRACTION": 1, "RESTATEMENT": 1}
    if notebook.stem == "unpriced_usage":
        assert namespace["unpriced_records"] == store.row_count(UNPRICED_USAGE)


class _Page(HTMLParser):
    """Collects what a browser would fetch (src/href/url()), scripts, and tags closed out of order."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link", "iframe", "img"):
            self.problems.append(f"<{tag}>")
        self.problems += [f"{k}={v}" for k, v in attrs if k in ("src", "href") and v and not v.startswith("#")]
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems += [f"{k}={v}" for k, v in attrs if k in ("src", "href")]

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"</{tag}> out of order")


def test_the_report_is_one_self_contained_page_with_the_gold_totals(spark, built, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", "--config", built.source_file, "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")

    parser = _Page()
    parser.feed(page)
    assert parser.problems == [] and parser.open == []  # nothing fetched from anywhere, every tag closed
    assert "url(" not in page and "@import" not in page

    daily = open_store(spark, built).read(COST_DAILY).where("currency_code = 'USD'")
    total = daily.agg(F.sum("effective_cost")).collect()[0][0]
    assert f'id="total-cost">{money(total)} USD<' in page
    for ident, column in (("list-cost", "list_cost"), ("contracted-cost", "contracted_cost")):
        assert f'id="{ident}">{money(daily.agg(F.sum(column)).collect()[0][0])} USD<' in page
    assert "<b>effective cost</b>, not what this account pays" in page  # the charts say which cost they show
    for row in daily.groupBy("usage_date", "sku_name").agg(F.sum("effective_cost").alias("cost")).collect():
        assert f"<td>{row.usage_date}</td><td>{row.sku_name}</td><td class=n>{money(row.cost)}</td>" in page
    for heading in ("Daily cost by SKU", "Top workloads", "Cost by tag", "Month to date", "Unpriced usage"):
        assert f"<h2>{heading}" in page
    assert "Quarantined records" in page and "Data freshness per source" in page
    newest = {r.source: r.newest for r in daily.groupBy("source").agg(F.max("usage_date").alias("newest")).collect()}
    assert "<td>system_usage</td>" in page and f"<td>system_tables</td><td>{newest['system_tables']}</td>" in page
    assert f"<td>legacy_csv</td><td>{newest['legacy_csv']}</td>" in page


def test_the_report_renders_in_a_headless_browser_without_errors(spark, built, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", "--config", built.source_file, "--out", str(out)]) == 0

    seen = render(out, selectors=("#total-cost", "#contracted-cost", "#list-cost"))

    assert seen.problems == []
    assert seen.requests == [out.resolve().as_uri()]  # the page alone: no script, font or image fetched
    assert seen.compat_mode == "CSS1Compat"  # parsed as a standards-mode HTML5 document
    assert len(seen.svg_boxes) >= 4  # daily cost, month to date, workloads, tags
    for width, height, shapes in seen.svg_boxes:
        assert width > 100 and height > 20 and shapes > 0, seen.svg_boxes
    daily = open_store(spark, built).read(COST_DAILY).where("currency_code = 'USD'")
    assert seen.texts["#total-cost"] == f"{money(daily.agg(F.sum('effective_cost')).collect()[0][0])} USD"
    assert seen.texts["#contracted-cost"] == f"{money(daily.agg(F.sum('contracted_cost')).collect()[0][0])} USD"
    assert seen.texts["#list-cost"] == f"{money(daily.agg(F.sum('list_cost')).collect()[0][0])} USD"
    assert seen.screenshot.startswith(b"\x89PNG")
