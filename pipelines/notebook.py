"""What the exploration notebooks share: the session, the pipeline's tables by name, and `display`.

The notebooks in `notebooks/` run on Databricks (where `spark` and `display` exist) and locally against
the demo warehouse. The config comes from BILLING_LAKEHOUSE_CONFIG, else `conf/pipeline.yml`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from pipelines.config import PipelineConfig, load_config
from pipelines.spark import build_spark
from pipelines.storage import open_store
from pipelines.tables import ALL_TABLES

REPOSITORY = Path(__file__).resolve().parent.parent


def notebook_config() -> PipelineConfig:
    """The config named by BILLING_LAKEHOUSE_CONFIG, else `conf/pipeline.yml` (of this folder or the repository)."""
    named = os.environ.get("BILLING_LAKEHOUSE_CONFIG")
    if named:
        return load_config(named)
    local = Path("conf/pipeline.yml")
    return load_config(local if local.exists() else REPOSITORY / "conf" / "pipeline.yml")


def open_tables(config: PipelineConfig | None = None) -> tuple[SparkSession, Callable[[str], DataFrame]]:
    """The session (Databricks' own, or a local one) and a reader of tables by `layer.name`."""
    config = config or notebook_config()
    spark = build_spark("billing-lakehouse-notebook", config.spark_conf, s3=config.uses_s3)
    store = open_store(spark, config)
    by_key = {table.key: table for table in ALL_TABLES}

    def table(key: str) -> DataFrame:
        return store.read(by_key[key])

    return spark, table


def show(data: DataFrame, rows: int = 20) -> None:
    """Local stand-in for Databricks' `display`."""
    data.show(rows, truncate=False)
