"""The session builder on a cluster takes the cluster's session as it is; local defaults only for local sessions.

Each session test runs in a process of its own: a cluster's session (a Databricks runtime is marked by
DATABRICKS_RUNTIME_VERSION) cannot be shown to the suite's own session, which is already started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

SESSION_SCRIPT = """
import json, sys
from pyspark.sql import SparkSession
if sys.argv[1] == "existing":  # the cluster's session, started before the pipeline's code runs
    SparkSession.builder.master("local[1]").config("spark.sql.shuffle.partitions", "5").config(
        "spark.sql.session.timeZone", "America/New_York").getOrCreate()
before = SparkSession.getActiveSession()
from pipelines.spark import build_spark
session = build_spark(conf={"spark.sql.shuffle.partitions": "8", "spark.master": "local[*]"}, s3=True)
keys = ["spark.master", "spark.sql.shuffle.partitions", "spark.sql.files.maxPartitionBytes", "spark.driver.memory",
        "spark.driver.extraClassPath", "spark.sql.session.timeZone", "spark.sql.parquet.outputTimestampType"]
print(json.dumps({"reused": before is not None and session is before, **{k: session.conf.get(k, None) for k in keys}}))
session.stop()
"""


def _session_in_subprocess(mode: str, env: dict[str, str]) -> dict[str, str | None]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "SPARK_REMOTE"))}
    environment.pop("DATABRICKS_RUNTIME_VERSION", None)
    environment.pop("SPARK_CONNECT_MODE_ENABLED", None)
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", SESSION_SCRIPT, mode],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_on_databricks_build_spark_reuses_the_active_session_and_only_sets_the_required_sql_settings() -> None:
    settings = _session_in_subprocess("existing", {"DATABRICKS_RUNTIME_VERSION": "15.4"})
    assert settings["reused"] is True
    assert settings["spark.master"] == "local[1]"
    assert settings["spark.sql.shuffle.partitions"] == "5"  # neither the config's spark_conf nor a local default
    assert settings["spark.sql.files.maxPartitionBytes"] != "64m"
    assert settings["spark.sql.session.timeZone"] == "UTC"  # a session-level SQL setting the run depends on
    assert settings["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"


def test_on_databricks_without_an_active_session_build_spark_gets_the_clusters_session_unchanged() -> None:
    # PYSPARK_SUBMIT_ARGS stands for the cluster's own settings (spark-defaults): the builder must keep them.
    cluster = "--master local[1] --conf spark.sql.shuffle.partitions=5 pyspark-shell"
    settings = _session_in_subprocess("none", {"DATABRICKS_RUNTIME_VERSION": "15.4", "PYSPARK_SUBMIT_ARGS": cluster})
    assert settings["spark.master"] == "local[1]"
    assert settings["spark.sql.shuffle.partitions"] == "5"
    assert settings["spark.sql.files.maxPartitionBytes"] != "64m"
    assert settings["spark.driver.memory"] is None  # no local default
    assert settings["spark.driver.extraClassPath"] is None  # no jars put on a cluster's class path
    assert settings["spark.sql.session.timeZone"] == "UTC"


def test_a_session_the_package_starts_locally_gets_the_local_defaults() -> None:
    settings = _session_in_subprocess("none", {})
    assert settings["spark.master"] == "local[*]"
    assert settings["spark.sql.shuffle.partitions"] == "8"
    assert settings["spark.sql.files.maxPartitionBytes"] == "64m"
    assert settings["spark.driver.memory"] == "2g"
