"""Deliveries and the warehouse on S3: a real S3-compatible server (moto) on 127.0.0.1, reached through Hadoop's S3A
with the endpoint settings of the config's `spark_conf` and credentials from the environment only."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from benchmarks.generate import HEADER
from pipelines.cli import main
from pipelines.config import PipelineConfig, load_config
from pipelines.errors import ConfigError
from pipelines.runner import run_pipeline
from pipelines.source_names import LEGACY_CSV, SYSTEM_USAGE
from pipelines.sources.files import check_files, first_line, list_files, location_exists
from pipelines.sources.list_prices import read_list_prices
from pipelines.sources.system_tables import read_exports
from pipelines.storage import open_store
from pipelines.tables import COST_DAILY, SOURCE_RECONCILIATION, TableSpec
from tests.conftest import (
    REPO,
    SERVERLESS_JOBS,
    system_frame,
    system_record,
    usage_row,
    write_config,
    write_delivery,
    write_prices,
    write_system_export,
)
from tests.s3_server import S3_TEST_CREDENTIALS, S3Server

WS = "1111111111111111"


def write_deliveries(spark: SparkSession, folder: Path) -> Path:
    """Legacy CSVs for February and March, two system usage exports from 2024-03-05 on, and a list-price export."""
    write_delivery(folder / "legacy", WS, "2024-02", [usage_row(timestamp="2024-02-10T09:59:59.999Z", dbus="4.0")])
    write_delivery(
        folder / "legacy",
        WS,
        "2024-03",
        [
            usage_row(timestamp="2024-03-05T09:59:59.999Z", dbus="3.0"),  # covered by the system export
            usage_row(timestamp="2024-03-20T09:59:59.999Z", dbus="2.0", custom_tags='{"team":"ml"}'),
        ],
    )
    first = system_record("o1", "10")
    write_system_export(spark, folder / "system", "export_date=2024-03-06", [first, system_record("o2", "2.5")])
    write_system_export(spark, folder / "system", "export_date=2024-03-08", [first, system_record("o3", "1.25")])
    write_prices(
        folder / "prices" / "prices.csv",
        [
            ("PREMIUM_JOBS_COMPUTE", "2023-01-01T00:00:00Z", "", "0.15"),
            (SERVERLESS_JOBS, "2023-01-01T00:00:00Z", "", "0.35"),
        ],
    )
    return folder


def s3_config(tmp: Path, server: S3Server, bucket: str, storage: str = "delta-spark") -> Path:
    """A config as a user writes it for S3: s3:// and s3a:// locations, S3A endpoint settings, no credentials."""
    spark_conf = "".join(f'  {key}: "{value}"\n' for key, value in server.spark_conf.items())
    sources = f"  system_usage:\n    path: s3a://{bucket}/landing/system\n    format: parquet\n"
    path = write_config(tmp, None, None, sources=sources, storage=storage)
    text = path.read_text(encoding="utf-8").replace(
        "sources:\n",
        f"sources:\n  legacy_csv:\n    path: s3://{bucket}/landing/legacy\n"
        f"  list_prices:\n    path: s3://{bucket}/landing/prices\n    format: csv\n",
        1,
    )
    text = text.replace(f"warehouse: {tmp / 'warehouse'}\n", f"warehouse: s3a://{bucket}/warehouse\n", 1)
    path.write_text(text + f"spark_conf:\n{spark_conf}", encoding="utf-8")
    return path


def local_config(tmp: Path, deliveries: Path) -> PipelineConfig:
    """The same deliveries from a local folder, into a local delta-rs warehouse."""
    sources = f"  system_usage:\n    path: {deliveries / 'system'}\n    format: parquet\n"
    return load_config(write_config(tmp, deliveries / "legacy", deliveries / "prices", sources=sources))


def gold(spark: SparkSession, config: PipelineConfig, table: TableSpec) -> DataFrame:
    return open_store(spark, config).read(table)


def delta_logs(server: S3Server, bucket: str) -> list[str]:
    """Every commit file of every table of the S3 warehouse: a run that writes nothing leaves this list as it was."""
    return [key for key in server.keys(bucket, "warehouse/") if "/_delta_log/" in key]


def test_s3_files_listed_hashed_and_first_line_read(spark: SparkSession, s3: S3Server, tmp_path: Path) -> None:
    local = tmp_path / "delivery"
    delivered = write_delivery(local / "csv", WS, "2024-01", [usage_row()])
    (local / "csv" / "_SUCCESS").write_text("", encoding="utf-8")
    (local / "csv" / ".partial.csv").write_text("half a file", encoding="utf-8")
    exported = local / "csv" / "exports" / "day=1" / "part-0.csv"
    exported.parent.mkdir(parents=True)
    exported.write_bytes("\ufeffa,b\r\n1,2\r\n".encode())
    bucket = s3.new_bucket()
    before = int(time.time()) * 1000
    root = s3.upload(local / "csv", bucket, "billable-usage/csv")

    listed = list_files(spark, root, recursive=True)
    as_written = s3.keys(bucket)
    digests = check_files(spark, listed)

    names = [(f.path, f.size) for f in listed]
    assert names == [
        (f"{root}/exports/day=1/part-0.csv", exported.stat().st_size),
        (f"{root}/{delivered.name}", delivered.stat().st_size),
    ]
    assert all(before - 1000 <= f.modified_ms <= time.time() * 1000 for f in listed)
    assert len(as_written) == 4  # the hidden and `_`-prefixed files are there, and not listed
    assert digests[listed[1].path].sha256 == hashlib.sha256(delivered.read_bytes()).hexdigest()
    assert first_line(spark, listed[0].path) == "a,b"
    assert first_line(spark, listed[1].path) == ",".join(HEADER)
    # s3:// as users write it is the same listing through S3A, paths kept as given.
    plain = list_files(spark, root.replace("s3a://", "s3://"), recursive=False)
    assert [(f.path, f.size, f.modified_ms) for f in plain] == [
        (listed[1].path.replace("s3a://", "s3://"), listed[1].size, listed[1].modified_ms)
    ]
    assert check_files(spark, plain)[plain[0].path].sha256 == digests[listed[1].path].sha256
    assert not location_exists(spark, f"s3a://{bucket}/no/such/prefix")


def test_s3_exports_read_as_from_a_local_folder(spark: SparkSession, s3: S3Server, tmp_path: Path) -> None:
    records = [system_record("o1", "10"), system_record("o2", "0.000000000000000001", day="2024-03-06")]
    system_frame(spark, records).coalesce(1).write.json(str(tmp_path / "json" / "export_date=2024-03-07"))
    write_system_export(spark, tmp_path / "parquet", "export_date=2024-03-07", records)
    write_prices(tmp_path / "prices" / "prices.csv", [(SERVERLESS_JOBS, "2023-01-01T00:00:00Z", "", "0.35")])
    bucket = s3.new_bucket()
    root = s3.upload(tmp_path, bucket, "exports")

    def files(folder: str) -> list[str]:
        return [f.path for f in list_files(spark, folder, recursive=True)]

    def without_lineage(data: DataFrame) -> DataFrame:
        """Without the file path (it differs), maps as JSON text (chispa cannot sort rows by a map)."""
        maps = [f.name for f in data.schema.fields if isinstance(f.dataType, MapType)]
        return data.drop("_source_file").withColumns({name: F.to_json(name) for name in maps})

    for fmt in ("json", "parquet"):
        assert_df_equality(
            without_lineage(read_exports(spark, files(f"{root}/{fmt}"), fmt)),
            without_lineage(read_exports(spark, files(str(tmp_path / fmt)), fmt)),
            ignore_row_order=True,
            ignore_nullable=True,
            ignore_column_order=False,
        )
    assert_df_equality(
        without_lineage(read_list_prices(spark, files(f"{root}/prices"), "csv")),
        without_lineage(read_list_prices(spark, files(str(tmp_path / "prices")), "csv")),
        ignore_row_order=True,
        ignore_nullable=True,
        ignore_column_order=False,
    )
    sources = read_exports(spark, files(f"{root}/parquet"), "parquet").select("_source_file").distinct().collect()
    assert [row._source_file for row in sources] == files(f"{root}/parquet")


# The one backend that writes to S3 (its id also keeps this test out of `make test-fast`).
@pytest.mark.parametrize("storage", ["delta-spark"])
def test_s3_warehouse_matches_local_delta_rs_and_rerun_writes_nothing(
    spark: SparkSession, s3: S3Server, tmp_path: Path, storage: str
) -> None:
    deliveries = write_deliveries(spark, tmp_path / "deliveries")
    bucket = s3.new_bucket()
    s3.upload(deliveries, bucket, "landing")
    (tmp_path / "s3").mkdir()
    (tmp_path / "local").mkdir()
    on_s3 = load_config(s3_config(tmp_path / "s3", s3, bucket, storage))
    local = local_config(tmp_path / "local", deliveries)

    started = time.monotonic()
    first = run_pipeline(spark, on_s3)
    s3_seconds = time.monotonic() - started
    run_pipeline(spark, local)

    assert not first.rejected and not first.failed
    assert Counter(entry.source for entry in first.landed) == {LEGACY_CSV: 2, SYSTEM_USAGE: 2}
    assert "bronze.list_prices" in first.written
    assert f"warehouse/gold/{COST_DAILY.name}/_delta_log/00000000000000000000.json" in s3.keys(bucket)
    for table in (COST_DAILY, SOURCE_RECONCILIATION):  # delta-rs reads partition columns last
        assert_df_equality(
            gold(spark, on_s3, table),
            gold(spark, local, table),
            ignore_row_order=True,
            ignore_nullable=True,
            ignore_column_order=True,
        )

    # A month file delivered again with the same bytes (a new modification time) is hashed and found unchanged.
    month = deliveries / "legacy" / f"workspaceId={WS}-usageMonth=2024-03.csv"
    s3.client.upload_file(str(month), bucket, f"landing/legacy/{month.name}")
    commits = delta_logs(s3, bucket)
    # The re-run is the CLI in a fresh JVM: the session takes the S3A settings from the config's spark_conf
    # and the credentials from the environment.
    rerun = subprocess.run(
        [str(Path(sys.executable).parent / "billing-lakehouse"), "run", "--config", on_s3.source_file],
        cwd=REPO,
        env={**os.environ, **S3_TEST_CREDENTIALS},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "tables written: none (everything was up to date)" in rerun.stdout
    assert delta_logs(s3, bucket) == commits
    print(f"run on S3: {s3_seconds:.1f} s")


def test_s3_warehouse_refused_for_delta_rs_before_anything_is_written(
    s3: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = s3.new_bucket()
    s3.upload(write_deliveries_without_spark(tmp_path / "deliveries"), bucket, "landing")
    config = s3_config(tmp_path, s3, bucket, storage="delta-rs")

    exit_code = main(["run", "--config", str(config)])

    error = capsys.readouterr().err
    assert exit_code == 2
    assert f"{config}: storage: expected delta-spark" in error and f"s3a://{bucket}/warehouse" in error
    assert s3.keys(bucket, "warehouse") == []


def write_deliveries_without_spark(folder: Path) -> Path:
    write_delivery(folder / "legacy", WS, "2024-02", [usage_row(timestamp="2024-02-10T09:59:59.999Z")])
    return folder


@pytest.mark.parametrize(
    ("warehouse", "refused"),
    [
        ("s3://b/warehouse", True),
        ("s3a://b/warehouse", True),
        ("abfss://c@a.dfs.core.windows.net/w", True),
        ("file:///tmp/warehouse", False),
        ("/tmp/warehouse", False),
    ],
)
def test_delta_rs_warehouse_on_an_object_store_is_a_config_error(tmp_path: Path, warehouse: str, refused: bool) -> None:
    path = write_config(tmp_path, tmp_path / "legacy", None)

    def load() -> PipelineConfig:
        return load_config(path, [f"warehouse={warehouse}"])

    if refused:
        with pytest.raises(ConfigError, match=r"storage: expected delta-spark or auto for the warehouse"):
            load()
    else:
        assert load().storage == "delta-rs"
    assert load_config(path, [f"warehouse={warehouse}", "storage=delta-spark"]).warehouse == warehouse
