"""Landing Dremio windows in bronze: grains kept apart, unchanged answers logged and not rewritten."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from pipelines.bronze.ingest_log import Run
from pipelines.bronze.land_dremio import land_dremio_usage
from pipelines.config.apis import DremioSource
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import DREMIO_USAGE, INGEST_LOG
from tests.api_servers import DremioUsage, hourly, serve

TOKEN = "dremio-secret-token"
NOW = datetime(2024, 5, 3, 10, 30, tzinfo=UTC)


def test_each_grain_replaces_only_its_own_rows_and_an_unchanged_answer_writes_no_data(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DREMIO_TOKEN", TOKEN)
    projects = hourly(["p-1"], datetime(2024, 5, 1, tzinfo=UTC), 48, lambda ident, hour: "1.5")
    engines = [{**o, "id": "e-1", "type": "ENGINE"} for o in projects[:10]]
    store = DeltaRsStore(spark, str(tmp_path / "warehouse"))
    with serve(DremioUsage(projects + engines, TOKEN)) as (url, _):
        by_project = DremioSource(base_url=url, backfill_days=2, refetch_hours=48, page_size=50)
        by_engine = DremioSource(base_url=url, backfill_days=2, group_by="ENGINE")

        land_dremio_usage(spark, store, by_project, Run(), now=NOW)
        version = store.version(DREMIO_USAGE)
        again = land_dremio_usage(spark, store, by_project, Run(), now=NOW)
        assert again.unchanged == 1 and store.version(DREMIO_USAGE) == version  # same answer: no data written
        land_dremio_usage(spark, store, by_engine, Run(), now=NOW)

    grains = store.read(DREMIO_USAGE).groupBy("group_by", "frequency").count()
    expected = spark.createDataFrame(
        [("PROJECT", "HOURLY", 48), ("ENGINE", "HOURLY", 10)], "group_by string, frequency string, count bigint"
    )
    assert_df_equality(grains, expected, ignore_row_order=True, ignore_nullable=True)
    log = [(r["delivery"].split(":")[0], r["status"], r["pages"], r["rows_read"]) for r in store.read_rows(INGEST_LOG)]
    assert sorted(log) == [
        ("ENGINE/HOURLY", "landed", 1, 10),
        ("PROJECT/HOURLY", "landed", 1, 48),
        ("PROJECT/HOURLY", "unchanged", 1, 48),
    ]
