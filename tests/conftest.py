"""One local SparkSession for the whole suite, plus small builders for configs and deliveries."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from benchmarks.generate import HEADER
from pipelines.config import PipelineConfig, load_config
from pipelines.spark import build_spark, maven_jars
from pipelines.storage import delta_spark_available
from pipelines.tables import SYSTEM_USAGE_COLUMNS
from tests.s3_server import S3_TEST_CREDENTIALS, map_s3_scheme, s3, s3_server  # noqa: F401  (S3 fixtures)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    # S3A takes its credentials from the JVM's environment, which is fixed when the JVM starts (tests/s3_server.py).
    os.environ.update(S3_TEST_CREDENTIALS)
    session = build_spark(
        "billing-lakehouse-tests",
        {
            "spark.master": "local[2]",
            # Managed (catalog) tables of spark_catalog go here, not into the working directory.
            "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("spark-warehouse")),
            # Test data is tiny: one partition per shuffle means fewer tasks and fewer files per write.
            "spark.sql.shuffle.partitions": "1",
            "spark.default.parallelism": "1",
            "spark.ui.enabled": "false",
            "spark.sql.adaptive.enabled": "false",
            "spark.driver.memory": "2g",
            # Compiling generated code for each new plan costs more than running a few rows interpreted.
            "spark.sql.codegen.wholeStage": "false",
            "spark.sql.codegen.factoryMode": "NO_CODEGEN",
        },
        s3=True,  # the S3A connector on the class path: tests/test_s3.py reads and writes moto's S3 server
    )
    map_s3_scheme(session, False)  # s3:// has no file system unless a test asks for the `s3` fixture
    yield session
    session.stop()


# Every end-to-end test runs on both storage backends; delta-spark needs the Delta Lake jars (`make jars`).
BACKENDS = ("delta-rs", "delta-spark")
REQUIRE_JARS = "BILLING_LAKEHOUSE_REQUIRE_JARS"


def require_delta_spark(spark: SparkSession) -> None:
    """Skip the calling test without the Delta Lake jars; fail it where CI sets BILLING_LAKEHOUSE_REQUIRE_JARS."""
    missing = None
    if not any(jar.name.startswith("delta-spark") for jar in maven_jars()):
        missing = "no Delta Lake jars in jars/ (run `make jars`, which needs mvn): delta-spark tests skipped"
    elif not delta_spark_available(spark):
        missing = "the Delta Lake jars in jars/ did not load into the test session's JVM"
    if missing and os.environ.get(REQUIRE_JARS):
        pytest.fail(f"{missing}, but {REQUIRE_JARS} is set")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The `storage:` a test's config names (test ids end in [delta-rs] or [delta-spark])."""
    if request.param == "delta-spark":
        require_delta_spark(request.getfixturevalue("spark"))
    return request.param


def write_delivery(folder: Path, workspace_id: str, month: str, rows: Sequence[Sequence[str]], header=HEADER) -> Path:
    """A legacy CSV delivery file written the way Databricks writes them (quoted, `""` escaped)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"workspaceId={workspace_id}-usageMonth={month}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def usage_row(
    workspace_id: str = "1111111111111111",
    timestamp: str = "2024-01-05T09:59:59.999Z",
    sku: str = "PREMIUM_JOBS_COMPUTE",
    dbus: str = "1.5",
    cluster_name: str = "etl",
    custom_tags: str = '{"team":"data"}',
    cluster_id: str = "0101-000000-abc123",
) -> list[str]:
    return [
        workspace_id,
        timestamp,
        cluster_id,
        cluster_name,
        "m5.xlarge",
        "12345678901234",
        custom_tags,
        sku,
        dbus,
        "0.5",
        "ana@example.com",
        custom_tags,
    ]


def write_config(
    tmp: Path,
    deliveries: Path | None,
    prices: Path | None,
    extra: str = "",
    workspaces: str | None = None,
    sources: str = "",
    storage: str = "delta-rs",
) -> Path:
    """A pipeline.yml in `tmp` pointing at the given deliveries and price export, on the `storage` backend."""
    shutil.copy(REPO / "conf" / "skus.yml", tmp / "skus.yml")
    workspaces = workspaces or (
        '  "1111111111111111": {cloud: AWS, tier: PREMIUM, region: us-east-1}\n'
        '  "2222222222222222": {cloud: AWS, tier: ENTERPRISE, region: us-west-2}\n'
    )
    legacy_block = f"  legacy_csv:\n    path: {deliveries}\n" if deliveries else ""
    price_block = f"  list_prices:\n    path: {prices}\n    format: csv\n" if prices else ""
    text = (
        "version: 1\n"
        f"warehouse: {tmp / 'warehouse'}\n"
        f"storage: {storage}\n"
        "currency: USD\n"
        "skus: skus.yml\n"
        f"sources:\n{legacy_block}{price_block}{sources}"
        f"workspaces:\n{workspaces}"
        f"{extra}"
    )
    path = tmp / "pipeline.yml"
    path.write_text(text, encoding="utf-8")
    return path


def config_for(tmp: Path, deliveries: Path, prices: Path | None = None, storage: str = "delta-rs") -> PipelineConfig:
    return load_config(write_config(tmp, deliveries, prices, storage=storage))


PRICES_HEADER = "price_start_time,price_end_time,account_id,sku_name,cloud,currency_code,usage_unit,pricing"


def write_prices(path: Path, rows: Sequence[tuple[str, ...]]) -> Path:
    """A list-prices CSV export: rows of (sku, start, end or '', price[, unit]); the unit defaults to DBU."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [PRICES_HEADER]
    for sku, start, end, price, *unit in rows:
        pricing = '"{""default"":""' + price + '"",""effective_list"":{""default"":""' + price + '""}}"'
        lines.append(f"{start},{end},acc,{sku},AWS,USD,{unit[0] if unit else 'DBU'},{pricing}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# system.billing.usage as Databricks types it (a subset of the nested fields, as an older export would have).
SYSTEM_EXPORT_DDL = (
    "record_id string, account_id string, workspace_id string, sku_name string, cloud string,"
    " usage_start_time timestamp, usage_end_time timestamp, usage_date date, custom_tags map<string,string>,"
    " usage_unit string, usage_quantity decimal(38,18),"
    " usage_metadata struct<cluster_id:string, job_id:string, job_name:string, notebook_id:string,"
    " notebook_path:string, warehouse_id:string, endpoint_name:string>,"
    " identity_metadata struct<run_as:string, owned_by:string>, record_type string, ingestion_date date,"
    " billing_origin_product string, product_features struct<is_serverless:boolean, is_photon:boolean>,"
    " usage_type string"
)
SERVERLESS_JOBS = "PREMIUM_JOBS_SERVERLESS_COMPUTE_US_EAST_N_VIRGINIA"


def system_record(
    record_id: str,
    quantity: str = "1.5",
    day: str = "2024-03-05",
    hour: int = 10,
    workspace_id: str = "1111111111111111",
    sku: str = SERVERLESS_JOBS,
    unit: str = "DBU",
    tags: dict[str, str] | None = None,
    job: tuple[str, str] | None = ("101", "nightly etl"),
    notebook: tuple[str, str] | None = None,
    run_as: str | None = "ana@example.com",
    record_type: str = "ORIGINAL",
    ingested: str | None = None,
    product: str = "JOBS",
    serverless: bool = True,
) -> tuple:
    """One system usage record as a row of SYSTEM_EXPORT_DDL."""
    start = datetime.fromisoformat(f"{day}T{hour:02d}:00:00")
    job_id, job_name = job or (None, None)
    notebook_id, notebook_path = notebook or (None, None)
    return (
        record_id,
        "acc",
        workspace_id,
        sku,
        "AWS",
        start,
        start + timedelta(hours=1),
        start.date(),
        {"team": "data"} if tags is None else tags,
        unit,
        Decimal(quantity),
        (None, job_id, job_name, notebook_id, notebook_path, None, None),
        (run_as, None),
        record_type,
        date.fromisoformat(ingested) if ingested else start.date() + timedelta(days=1),
        product,
        (serverless, False),
        "COMPUTE_TIME",
    )


def correction(original: tuple, record_id: str, record_type: str, ingested: str, **changes: Any) -> tuple:
    """A RETRACTION (quantity negated) or RESTATEMENT of `original`, optionally with changed fields."""
    fields = SYSTEM_USAGE_COLUMNS
    row = dict(zip(fields, original, strict=True))
    row.update(record_id=record_id, record_type=record_type, ingestion_date=date.fromisoformat(ingested))
    if record_type == "RETRACTION":
        row["usage_quantity"] = -row["usage_quantity"]
    row.update(changes)
    return tuple(row[f] for f in fields)


def system_frame(spark: SparkSession, records: Sequence[tuple]) -> DataFrame:
    return spark.createDataFrame(list(records), SYSTEM_EXPORT_DDL)


def write_system_export(spark: SparkSession, folder: Path, name: str, records: Sequence[tuple]) -> Path:
    """A Parquet export of system usage records, as a folder of part files the way Spark writes it."""
    target = folder / name
    system_frame(spark, records).coalesce(1).write.mode("overwrite").parquet(str(target))
    return target
