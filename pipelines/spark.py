"""SparkSession builder: UTC, Delta-valid Parquet timestamps, small local defaults for local sessions only.

On a cluster (Databricks sets `DATABRICKS_RUNTIME_VERSION`) and on a Spark Connect session (`SPARK_REMOTE`,
`spark.remote`, Databricks serverless and standard access mode) the builder takes the cluster's session and
changes none of its settings: no master, no shuffle partitions, no jars. Only the session-level SQL settings of
REQUIRED_CONF are checked there, and set where they differ (serverless allows `spark.sql.session.timeZone`
and defaults it to Etc/UTC; a setting the cluster refuses is an error when the pipeline depends on it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from pyspark import SparkConf
from pyspark.sql import SparkSession

from pipelines.errors import BillingLakehouseError

log = logging.getLogger(__name__)

# Settings every run needs, wherever it runs: all session-level SQL settings, scoped to this session (a Spark
# Connect session's SQL settings are its own; a Databricks notebook's or job's session is isolated too).
# INT96 timestamps (Spark's default) are not valid Delta.
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionOverwriteMode": "static",
}
# Of those, what only the delta-rs backend depends on (Spark writes the Parquet files delta-rs commits); Delta's own
# writer (delta-spark, Databricks) does not, so a cluster that refuses to change it (serverless allows only a few
# settings) gets a warning, not an error.
WRITER_ONLY_CONF = frozenset({"spark.sql.parquet.outputTimestampType"})
# Names of UTC: serverless compute's default session time zone is Etc/UTC.
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Z", "+00:00", "Etc/Universal", "Universal", "Zulu"})
# Environment variables that mean "a session exists elsewhere; use it": a Databricks runtime, or Spark Connect.
CLUSTER_ENVIRONMENT = ("DATABRICKS_RUNTIME_VERSION", "SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")

# Spark's own log lines: errors only (the pipeline's logs are its own, structured, on stderr).
SPARK_LOG_CONFIG = (Path(__file__).parent / "log4j2.properties").as_uri()

# Defaults for a laptop or a CI box; a cluster's own settings win because getOrCreate reuses its session.
LOCAL_DEFAULTS = {
    "spark.master": "local[*]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": "2g",
    # The throughput collector suits a batch job's short-lived rows; measured ~10-25% faster than G1 here.
    "spark.driver.extraJavaOptions": f"-XX:+UseParallelGC -Dlog4j2.configurationFile={SPARK_LOG_CONFIG}",
    "spark.sql.files.maxPartitionBytes": "64m",
    # PySpark otherwise sends the Python call site of every DataFrame call to the JVM (several round trips
    # each, for error messages only): measured ~20% of a small run's time.
    "spark.python.sql.dataFrameDebugging.enabled": "false",
}

# Hadoop's local file system starts a `chmod` process for every directory it creates when its native
# library is missing (it is never in pyspark): hundreds per partitioned write. `make` builds a subclass
# that sets permissions in-process (jvm/billinglakehouse/NioLocalFileSystem.java); a JVM this module
# starts loads it when the jar is there.
LOCAL_FS_JAR = Path(__file__).parent / "jars" / "local-fs.jar"
LOCAL_FS_CLASS = "billinglakehouse.NioLocalFileSystem"


# The Delta Lake jars and Hadoop's S3A connector, fetched from Maven by `make jars` into this folder (or the
# folder BILLING_LAKEHOUSE_JARS names). A local JVM this module starts puts them on its class path.
MAVEN_JARS = Path(os.environ.get("BILLING_LAKEHOUSE_JARS") or Path(__file__).resolve().parent.parent / "jars")
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
# s3:// paths as users write them are read through S3A locally (Databricks maps s3:// itself).
S3A_CONF = {
    "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    "spark.hadoop.fs.s3a.aws.credentials.provider": (
        "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"
    ),
}


S3_JAR_PREFIXES = ("hadoop-aws", "bundle")


def maven_jars() -> list[Path]:
    """The fetched jars (Delta Lake, S3A), none when `make jars` has not run (an offline laptop)."""
    return sorted(MAVEN_JARS.glob("*.jar")) if MAVEN_JARS.is_dir() else []


def local_jars_conf(s3: bool = False) -> dict[str, str]:
    """Class path and settings for the jars a local JVM loads: the local file system, Delta, and with `s3` the
    S3A connector and its AWS SDK (only then: the SDK's logging complains on stderr whenever it is loaded)."""
    jars = [jar for jar in maven_jars() if s3 or not jar.name.startswith(S3_JAR_PREFIXES)]
    settings: dict[str, str] = {}
    if LOCAL_FS_JAR.is_file():
        jars = [LOCAL_FS_JAR, *jars]
        settings["spark.hadoop.fs.file.impl"] = LOCAL_FS_CLASS
    if any(jar.name.startswith("delta-spark") for jar in jars):
        settings.update(DELTA_CONF)
    if any(jar.name.startswith("hadoop-aws") for jar in jars):
        settings.update(S3A_CONF)
    if jars:  # the driver's class path, not spark.jars: a local executor would copy every jar per session
        settings["spark.driver.extraClassPath"] = os.pathsep.join(str(jar) for jar in jars)
    return settings


def _loads_local_jars(master: str) -> bool:
    """Only a local JVM this process starts itself (spark-submit started one already; executors elsewhere lack it)."""
    return master.startswith("local") and "PYSPARK_GATEWAY_PORT" not in os.environ


def is_connect(spark: SparkSession) -> bool:
    """Whether `spark` is a Spark Connect session (no JVM in this process: no `_jvm`, `sparkContext` or RDDs)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def on_cluster() -> bool:
    """Whether this process runs where a session is provided: a Databricks runtime, or a Spark Connect client."""
    return any(os.environ.get(name) for name in CLUSTER_ENVIRONMENT)


def build_spark(
    app_name: str = "billing-lakehouse", conf: Mapping[str, str] | None = None, s3: bool = False
) -> SparkSession:
    """The active session if there is one (Databricks, spark-submit, Spark Connect), else a local one.

    On a cluster or a Spark Connect session nothing but REQUIRED_CONF is touched, and `conf` (a config's
    `spark_conf`) applies only to sessions this function starts locally, as `s3` (S3A on the class path) does.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        session = active
    elif on_cluster():
        session = SparkSession.builder.getOrCreate()  # the cluster's or the Connect server's session, as it is
    else:
        session = _local_session(app_name, conf, s3)
    ensure_required_conf(session)
    return session


def _local_session(app_name: str, conf: Mapping[str, str] | None, s3: bool) -> SparkSession:
    given = SparkConf()  # what spark-submit or the environment already set wins over our defaults
    builder = SparkSession.builder.appName(app_name)
    defaults = {key: value for key, value in LOCAL_DEFAULTS.items() if not given.contains(key)}
    settings = {**defaults, **(conf or {})}
    master = settings.get("spark.master") or given.get("spark.master", "")
    if _loads_local_jars(master):
        settings = {**{k: v for k, v in local_jars_conf(s3).items() if not given.contains(k)}, **settings}
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()  # Spark's own log level comes from log4j2.properties (SPARK_LOG_CONFIG)


def _same(key: str, current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if key == "spark.sql.session.timeZone":
        return current in UTC_NAMES and wanted in UTC_NAMES
    return current.lower() == wanted.lower()


def ensure_required_conf(session: SparkSession) -> None:
    """Set each REQUIRED_CONF setting whose value differs; a cluster that refuses one the run needs is an error."""
    for key, wanted in REQUIRED_CONF.items():
        current = session.conf.get(key, None)
        if _same(key, current, wanted):
            continue
        try:
            session.conf.set(key, wanted)
        except Exception as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
            if key in WRITER_ONLY_CONF:
                log.warning("this Spark keeps %s=%s (%s); only storage delta-rs needs %s", key, current, reason, wanted)
                continue
            raise BillingLakehouseError(
                f"this Spark session has {key}={current} and refuses to set it to {wanted} ({reason}):"
                f" set {key} to {wanted} in the cluster's or job's Spark configuration"
            ) from error
