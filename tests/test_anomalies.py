"""gold.cost_anomalies: each kind of anomaly is found and explained; corrections raise none; refreshes are exact."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.gold.anomalies import Detection, cost_anomalies, dependent_dates, history_dates
from pipelines.runner import run_pipeline
from pipelines.storage import open_store
from pipelines.tables import COST_ANOMALIES, COST_BY_IDENTITY, COST_BY_TAG, COST_BY_WORKLOAD, TableSpec
from tests.conftest import SERVERLESS_JOBS, correction, system_record, write_config, write_prices, write_system_export

START = date(2024, 3, 4)  # a Monday; five weeks of history before DAY
DAY = date(2024, 4, 10)
WS = "1111111111111111"
DETECTION = Detection(threshold_percent=Decimal("50"), min_change=Decimal("50"), weeks=4, top_contributors=5)


@dataclass(frozen=True)
class Usage:
    """One day's cost of one workload, as the aggregates would hold it."""

    day: date
    workload: tuple[str, str, str]  # (type, id, name)
    cost: str
    identity: str = "ana@example.com"
    tags: dict[str, str] = field(default_factory=lambda: {"team": "data"})
    product: str = "JOBS"
    workspace: str = WS


def steady(until: date = DAY + timedelta(days=3)) -> list[Usage]:
    """An ETL job (100 a weekday, 40 on weekends) and a SQL warehouse (200 a day) from START to `until`."""
    usage, day = [], START
    while day <= until:
        usage.append(Usage(day, ("job", "101", "nightly etl"), "100" if day.weekday() < 5 else "40"))
        usage.append(Usage(day, ("warehouse", "w1", ""), "200", "bob@example.com", {"team": "bi"}, "SQL"))
        day += timedelta(days=1)
    return usage


def frame(spark: SparkSession, table: TableSpec, rows: list[dict[str, object]]) -> DataFrame:
    schema = table.schema()
    return spark.createDataFrame([tuple(row.get(f) for f in schema.fieldNames()) for row in rows], schema)


def aggregates(spark: SparkSession, usage: list[Usage]) -> tuple[DataFrame, DataFrame, DataFrame]:
    workload, tags, identity = [], [], []
    for u in usage:
        kind, ident, name = u.workload
        base: dict[str, object] = {
            "usage_date": u.day,
            "workspace_id": u.workspace,
            "billing_origin_product": u.product,
            "currency_code": "USD",
            "contracted_cost": Decimal(u.cost),
            "job_id": ident if kind == "job" else None,
            "job_name": name if kind == "job" else None,
        }
        workload.append({**base, "workload_type": kind, "workload_id": ident, "workload_name": name or None})
        tags += [{**base, "tag_key": key, "tag_value": value} for key, value in u.tags.items()]
        identity.append({**base, "identity": u.identity, "identity_role": "run_as"})
    return (
        frame(spark, COST_BY_WORKLOAD, workload),
        frame(spark, COST_BY_TAG, tags),
        frame(spark, COST_BY_IDENTITY, identity),
    )


def detect(spark: SparkSession, usage: list[Usage], detection: Detection = DETECTION, days=None) -> dict:
    """The anomalies found by (usage_date, scope_type, scope_id), on `days` (default DAY; None: every day)."""
    rows = cost_anomalies(*aggregates(spark, usage), detection, [DAY] if days == "DAY" else days).collect()
    return {(r.usage_date, r.scope_type, r.scope_id): r for r in rows}


def top(anomaly: object) -> tuple[str, str]:
    first = anomaly.top_contributors[0]  # type: ignore[attr-defined]
    return first.kind, first.id


# One history with every kind injected on its own day (DAY is a Wednesday), each checked by one test below.
SPIKE, NEW_JOB, RUNAWAY, SMALL, LOST_TAG = (DAY + timedelta(days=n) for n in (0, 1, 2, 3, 5))  # LOST_TAG: Monday
TOO_EARLY = START + timedelta(days=27)  # the account has no usage four weeks before: not evaluated


def injected() -> list[Usage]:
    changes = {(SPIKE, "101"): {"cost": "400"}, (RUNAWAY, "w1"): {"cost": "900"}, (LOST_TAG, "101"): {"tags": {}}}
    changes |= {(SMALL, "w1"): {"cost": "280"}, (TOO_EARLY, "w1"): {"cost": "5000"}}
    usage = [replace(u, **changes.get((u.day, u.workload[1]), {})) for u in steady(DAY + timedelta(days=6))]  # type: ignore[arg-type]
    return [*usage, Usage(NEW_JOB, ("job", "777", "backfill"), "500", "carl@example.com", {})]


@pytest.fixture(scope="module")
def found(spark: SparkSession) -> dict:
    return detect(spark, injected(), days=None)


def test_days_without_an_injected_anomaly_raise_nothing(found):
    assert {day for day, _, _ in found} == {SPIKE, NEW_JOB, RUNAWAY, LOST_TAG}


def test_a_spike_of_one_job_is_flagged_on_every_scope_it_counts_in_and_names_the_job(found):
    spiked = {key[1:]: row for key, row in found.items() if key[0] == SPIKE}
    assert set(spiked) == {("account", "account"), ("workspace", WS), ("sku_group", "JOBS"), ("tag", "team=data")}
    account = spiked[("account", "account")]
    assert (account.actual_cost, account.expected_cost, account.deviation) == (Decimal(600), Decimal(300), Decimal(300))
    assert (account.deviation_percent, account.direction, account.cost_basis) == (Decimal(100), "spike", "contracted")
    assert top(account) == ("job", "101")
    assert account.top_contributors[0].share_of_change == Decimal(1)
    assert {c.kind for c in account.top_contributors} == {"job", "tag", "identity"}  # each family explains it
    assert top(spiked[("tag", "team=data")]) == ("job", "101")
    assert len({row.anomaly_id for row in found.values()}) == len(found)


def test_a_new_expensive_job_without_history_is_named_as_the_contributor(found):
    account = found[(NEW_JOB, "account", "account")]
    assert account.deviation == Decimal(500)
    first = account.top_contributors[0]
    assert (first.kind, first.id, first.name, first.expected_cost, first.change) == (
        "job",
        "777",
        "backfill",
        Decimal(0),
        Decimal(500),
    )


def test_a_runaway_warehouse_is_named(found):
    assert top(found[(RUNAWAY, "sku_group", "SQL")]) == ("warehouse", "w1")
    assert top(found[(RUNAWAY, "account", "account")]) == ("warehouse", "w1")


def test_a_lost_tag_is_a_drop_of_its_tag_scope_explained_by_the_job_that_lost_it(found):
    assert {key[1:] for key in found if key[0] == LOST_TAG} == {("tag", "team=data")}  # the account spent the same
    lost = found[(LOST_TAG, "tag", "team=data")]
    assert (lost.direction, lost.actual_cost, lost.deviation_percent) == ("drop", Decimal(0), Decimal(-100))
    assert top(lost) == ("job", "101")
    assert lost.top_contributors[0].change == Decimal(-100)


def test_the_threshold_and_the_minimum_change_are_respected(spark, found):
    assert not any(day == SMALL for day, _, _ in found)  # +80 on 200 is 40%: under the 50% threshold
    lower = replace(DETECTION, threshold_percent=Decimal("30"))
    assert (SMALL, "sku_group", "SQL") in detect(spark, injected(), lower, [SMALL])
    assert detect(spark, injected(), replace(lower, min_change=Decimal("81")), [SMALL]) == {}  # 80 is too small


def test_the_expected_value_is_the_median_of_the_same_weekday_of_earlier_weeks_only(spark):
    history = [u for u in steady() if u.workload[1] == "w1"]
    weeks_before = {DAY - timedelta(days=7 * k): cost for k, cost in enumerate(["900", "100", "220", "240", "260"])}
    usage = [replace(u, cost=weeks_before.get(u.day, u.cost)) for u in history]
    later = [replace(u, cost="5000") for u in usage if u.day > DAY]  # days after DAY never shape its expectation
    usage = [u for u in usage if u.day <= DAY] + later
    account = detect(spark, usage, days="DAY")[(DAY, "account", "account")]
    assert (account.expected_cost, account.actual_cost) == (Decimal(230), Decimal(900))  # median of 100,220,240,260


def test_dependent_and_history_dates_are_the_same_weekday_weeks_apart():
    assert dependent_dates([DAY], 2) == [DAY, DAY + timedelta(days=7), DAY + timedelta(days=14)]
    assert history_dates([DAY], 1) == [DAY - timedelta(days=7), DAY]


def test_anomaly_settings_are_checked(tmp_path: Path):
    path = write_config(tmp_path, None, None, extra='anomalies:\n  threshold_percent: "25"\n  tag_keys: [team]\n')
    settings = load_config(path).anomalies
    assert (settings.threshold_percent, settings.tag_keys, settings.history_days) == (Decimal(25), ("team",), 28)
    for bad, key in (("threshold_percent: 25.5", "threshold_percent"), ("history_days: 30", "history_days")):
        path.write_text(path.read_text().split("anomalies:")[0] + f"anomalies:\n  {bad}\n")
        with pytest.raises(ConfigError, match=f"anomalies.{key}"):
            load_config(path)


# End to end: system usage records through the pipeline, corrections netted in silver.
E2E_START, E2E_END = date(2024, 3, 1), date(2024, 4, 15)
MOVED_FROM, MOVED_TO, RETAGGED = date(2024, 4, 8), date(2024, 4, 9), date(2024, 4, 10)


def e2e_history() -> tuple[list[tuple], list[tuple]]:
    """Jobs 101 (team=data) and 202 (team=etl), 100 DBU at 1 USD a day each. Job 202's usage of MOVED_TO (150)
    is delivered dated MOVED_FROM, and job 101's usage of RETAGGED tagged team=ml. Returns (originals, fixes)."""
    records, fixes, day = [], [], E2E_START
    while day <= E2E_END:
        for job in ("101", "202"):
            record_id = f"{job}-{day}"
            if (job, day) == ("202", MOVED_TO):
                continue  # delivered on MOVED_FROM below
            tags = {"team": "etl" if job == "202" else "ml" if day == RETAGGED else "data"}
            original = system_record(record_id, "100", day=str(day), job=(job, f"job {job}"), tags=tags)
            records.append(original)
            if (job, day) == ("101", RETAGGED):
                fixes.append(correction(original, f"{record_id}-r", "RETRACTION", "2024-04-20"))
                fixes.append(
                    correction(original, f"{record_id}-s", "RESTATEMENT", "2024-04-20", custom_tags={"team": "data"})
                )
        day += timedelta(days=1)
    misdated = system_record("202-moved", "150", str(MOVED_FROM), 11, job=("202", "job 202"), tags={"team": "etl"})
    records.append(misdated)
    fixes.append(correction(misdated, "202-moved-r", "RETRACTION", "2024-04-20"))
    start = misdated[5].replace(day=MOVED_TO.day)
    moved = {"usage_start_time": start, "usage_end_time": start + timedelta(hours=1), "usage_date": MOVED_TO}
    fixes.append(correction(misdated, "202-moved-s", "RESTATEMENT", "2024-04-20", **moved))
    return records, fixes


@pytest.fixture(scope="module")
def corrected_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("anomalies_e2e")
    records, fixes = e2e_history()
    write_system_export(spark, tmp / "system", "export", records)
    write_prices(tmp / "prices" / "prices.csv", [(SERVERLESS_JOBS, "2023-01-01T00:00:00Z", "", "1.0")])
    sources = f"  system_usage:\n    path: {tmp / 'system'}\n    format: parquet\n"
    config = load_config(write_config(tmp, None, tmp / "prices", sources=sources))
    run_pipeline(spark, config)
    store = open_store(spark, config)
    before = {(r.usage_date, r.scope_type, r.scope_id, r.direction) for r in store.read(COST_ANOMALIES).collect()}
    write_system_export(spark, tmp / "system", "corrections", fixes)
    run_pipeline(spark, config)
    return config, store, before


def test_uncorrected_deliveries_look_like_anomalies(corrected_run):
    _, _, before = corrected_run
    assert {
        (MOVED_FROM, "account", "account", "spike"),
        (RETAGGED, "tag", "team=data", "drop"),
        (RETAGGED, "tag", "team=ml", "spike"),
    } <= before


def test_restatements_that_move_cost_between_days_or_tags_raise_no_anomaly(corrected_run):
    _, store, _ = corrected_run
    assert store.read(COST_ANOMALIES).collect() == []


def test_a_correction_recomputes_exactly_the_days_whose_baseline_reads_it(corrected_run):
    _, store, _ = corrected_run
    aggregates_changed = store.last_commit(COST_BY_WORKLOAD).metadata["changed"]["usage_dates"]
    assert aggregates_changed == [str(MOVED_FROM), str(MOVED_TO), str(RETAGGED)]
    changed = store.last_commit(COST_ANOMALIES).metadata["changed"]["usage_dates"]
    # Each corrected day and the same weekday of the next four weeks, among the days delivered (to E2E_END).
    assert changed == [str(MOVED_FROM), str(MOVED_TO), str(RETAGGED), str(MOVED_FROM + timedelta(days=7))]


def test_a_run_with_nothing_new_writes_no_anomalies(spark, corrected_run):
    config, store, _ = corrected_run
    version = store.version(COST_ANOMALIES)
    run_pipeline(spark, config)
    assert store.version(COST_ANOMALIES) == version


def test_changed_anomaly_settings_rebuild_the_table(spark, corrected_run):
    config, store, _ = corrected_run
    path = Path(config.source_file)
    path.write_text(path.read_text() + 'anomalies:\n  threshold_percent: "60"\n')
    run_pipeline(spark, load_config(path))
    assert store.last_commit(COST_ANOMALIES).metadata["changed"] == {"everything": True}
    assert store.read(COST_ANOMALIES).collect() == []
