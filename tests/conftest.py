"""One local SparkSession for the whole suite, plus small builders for configs and deliveries."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from benchmarks.generate import HEADER
from pipelines.config import PipelineConfig, load_config
from pipelines.spark import build_spark

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_spark(
        "billing-lakehouse-tests",
        {
            "spark.master": "local[2]",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.sql.adaptive.enabled": "false",
            "spark.driver.memory": "2g",
        },
    )
    yield session
    session.stop()


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
    tmp: Path, deliveries: Path, prices: Path | None, extra: str = "", workspaces: str | None = None
) -> Path:
    """A pipeline.yml in `tmp` pointing at the given deliveries and price export."""
    shutil.copy(REPO / "conf" / "skus.yml", tmp / "skus.yml")
    workspaces = workspaces or (
        '  "1111111111111111": {cloud: AWS, tier: PREMIUM, region: us-east-1}\n'
        '  "2222222222222222": {cloud: AWS, tier: ENTERPRISE, region: us-west-2}\n'
    )
    price_block = f"  list_prices:\n    path: {prices}\n    format: csv\n" if prices else ""
    text = (
        "version: 1\n"
        f"warehouse: {tmp / 'warehouse'}\n"
        "storage: delta-rs\n"
        "currency: USD\n"
        "skus: skus.yml\n"
        "sources:\n"
        f"  legacy_csv:\n    path: {deliveries}\n"
        f"{price_block}"
        f"workspaces:\n{workspaces}"
        f"{extra}"
    )
    path = tmp / "pipeline.yml"
    path.write_text(text, encoding="utf-8")
    return path


def config_for(tmp: Path, deliveries: Path, prices: Path | None = None) -> PipelineConfig:
    return load_config(write_config(tmp, deliveries, prices))


PRICES_HEADER = "price_start_time,price_end_time,account_id,sku_name,cloud,currency_code,usage_unit,pricing"


def write_prices(path: Path, rows: Sequence[tuple[str, str, str, str]]) -> Path:
    """A list-prices CSV export: rows of (sku, start, end or '', price)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [PRICES_HEADER]
    for sku, start, end, price in rows:
        pricing = '"{""default"":""' + price + '"",""effective_list"":{""default"":""' + price + '""}}"'
        lines.append(f"{start},{end},acc,{sku},AWS,USD,DBU,{pricing}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
